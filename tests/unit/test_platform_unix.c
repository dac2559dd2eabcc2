/*
 * The unix target: block devices over files (data, alignment and range
 * checks), binding errors, bindings checked against a manifest, manifest
 * validation, entropy, clocks, watched descriptors (slots reused, fibers
 * woken by a pipe), and (as root, with /dev/net/tun) a tap.
 */
#include "tests/unit/harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "haze/manifest.h"
#include "haze/platform.h"
#include "haze/sched.h"
#include "platform/host/options.h"
#include "platform/unix/unix.h"

#define DISK_SIZE (1u << 20)

struct disk {
	char path[64];
	int fd; /* our own descriptor, to check what reached the file */
	hz_handle_t h;
	struct hz_block_info info;
};

/* Creates a file of @size bytes and binds it as block device "disk". */
static void disk_open(struct disk *d, size_t size)
{
	struct hz_errmsg err = {0};

	hz_unix_unbind_all();
	snprintf(d->path, sizeof(d->path), "/tmp/haze-test-disk.XXXXXX");
	d->fd = mkstemp(d->path);
	assert_true(d->fd >= 0);
	assert_int_equal(ftruncate(d->fd, (off_t)size), 0);
	if (hz_unix_bind_file("disk", d->path, &err) != 0)
		fail_msg("bind: %s", hz_errmsg_text(&err));
	assert_int_equal(hz_platform_block_acquire("disk", &d->h, &d->info), 0);
}

static void disk_close(struct disk *d)
{
	hz_unix_unbind_all();
	close(d->fd);
	unlink(d->path);
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i >> 9) * 13 + i * 7 + seed);
}

/* --- block devices -------------------------------------------------------- */

static void block_write_read_verify(void **state)
{
	static const struct {
		uint64_t off;
		size_t len;
	} io[] = {
	    {0, 512},
	    {512, 3 * 512},
	    {4096 * 3, 4096},
	    {65536 + 512, 17 * 512},
	    {DISK_SIZE - 8 * 512, 8 * 512},
	    {200 * 512, 64 * 1024},
	};
	static uint8_t wbuf[64 * 1024], rbuf[64 * 1024], zero[512];
	struct disk d;

	(void)state;
	disk_open(&d, DISK_SIZE + 300); /* a partial last sector is not used */
	assert_int_equal(d.info.sector_size, 512);
	assert_int_equal(d.info.capacity, DISK_SIZE);
	for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
		pattern(wbuf, io[i].len, (unsigned)i);
		assert_int_equal(
		    hz_platform_block_write(d.h, io[i].off, wbuf, io[i].len),
		    0);
		memset(rbuf, 0, sizeof(rbuf));
		assert_int_equal(
		    hz_platform_block_read(d.h, io[i].off, rbuf, io[i].len), 0);
		assert_memory_equal(rbuf, wbuf, io[i].len);
		/* It reached the file at that offset, not elsewhere. */
		memset(rbuf, 0, sizeof(rbuf));
		assert_int_equal(pread(d.fd, rbuf, io[i].len, (off_t)io[i].off),
				 (ssize_t)io[i].len);
		assert_memory_equal(rbuf, wbuf, io[i].len);
	}
	/* Earlier writes survive later ones, and the gaps stay zero. */
	pattern(wbuf, 3 * 512, 1);
	assert_int_equal(hz_platform_block_read(d.h, 512, rbuf, 3 * 512), 0);
	assert_memory_equal(rbuf, wbuf, 3 * 512);
	assert_int_equal(hz_platform_block_read(d.h, 4 * 512, rbuf, 512), 0);
	assert_memory_equal(rbuf, zero, 512);
	assert_int_equal(hz_platform_block_read(d.h, 4096 * 4, rbuf, 512), 0);
	assert_memory_equal(rbuf, zero, 512);
	assert_int_equal(hz_platform_block_flush(d.h), 0);
	disk_close(&d);
}

static void block_rejects_bad_requests(void **state)
{
	static uint8_t buf[4096];
	const uint64_t cap = DISK_SIZE;
	struct disk d;

	(void)state;
	disk_open(&d, DISK_SIZE);
	/* Misaligned offsets and lengths. */
	assert_int_equal(hz_platform_block_read(d.h, 1, buf, 512), -HZ_EINVAL);
	assert_int_equal(hz_platform_block_read(d.h, 511, buf, 512),
			 -HZ_EINVAL);
	assert_int_equal(hz_platform_block_write(d.h, 256, buf, 512),
			 -HZ_EINVAL);
	assert_int_equal(hz_platform_block_read(d.h, 0, buf, 100), -HZ_EINVAL);
	assert_int_equal(hz_platform_block_write(d.h, 512, buf, 513),
			 -HZ_EINVAL);
	/* Out of range, including offsets and lengths that would wrap. */
	assert_int_equal(hz_platform_block_read(d.h, cap, buf, 512),
			 -HZ_EINVAL);
	assert_int_equal(hz_platform_block_write(d.h, cap - 512, buf, 1024),
			 -HZ_EINVAL);
	assert_int_equal(hz_platform_block_write(d.h, cap + 512, buf, 512),
			 -HZ_EINVAL);
	assert_int_equal(
	    hz_platform_block_read(d.h, UINT64_MAX & ~511ull, buf, 512),
	    -HZ_EINVAL);
	assert_int_equal(
	    hz_platform_block_write(d.h, UINT64_MAX - 511, buf, 512),
	    -HZ_EINVAL);
	assert_int_equal(
	    hz_platform_block_read(d.h, 512, buf, SIZE_MAX & ~511ul),
	    -HZ_EINVAL);
	assert_int_equal(hz_platform_block_write(d.h, UINT64_MAX & ~511ull, buf,
						 SIZE_MAX & ~511ul),
			 -HZ_EINVAL);
	/* The last sector is in range. */
	assert_int_equal(hz_platform_block_write(d.h, cap - 512, buf, 512), 0);
	/* Bad handles. */
	assert_int_equal(hz_platform_block_read(-1, 0, buf, 512), -HZ_EINVAL);
	assert_int_equal(hz_platform_block_read(d.h + 1, 0, buf, 512),
			 -HZ_EINVAL);
	assert_int_equal(hz_platform_block_write(HZ_HANDLE_MAX, 0, buf, 512),
			 -HZ_EINVAL);
	assert_int_equal(hz_platform_block_flush(-1), -HZ_EINVAL);
	assert_int_equal(hz_platform_block_flush(d.h + 1), -HZ_EINVAL);
	/* Nothing above reached the file past its end. */
	{
		struct stat st;

		assert_int_equal(fstat(d.fd, &st), 0);
		assert_int_equal(st.st_size, DISK_SIZE);
	}
	disk_close(&d);
}

static void host_failures_are_logged(void **state)
{
	static uint8_t buf[1024];
	struct harness_capture cap;
	char out[512];
	struct disk d;

	(void)state;
	disk_open(&d, DISK_SIZE);
	/* The file shrinks under the device: a read past its end fails. */
	assert_int_equal(ftruncate(d.fd, 512), 0);
	harness_capture_begin(&cap);
	assert_int_equal(hz_platform_block_read(d.h, 512, buf, 1024), -HZ_EIO);
	harness_capture_end(&cap, out, sizeof(out));
	assert_non_null(strstr(out, "block device 'disk': pread: end of file"));
	disk_close(&d);
}

static void acquire_by_name_and_kind(void **state)
{
	struct hz_block_info info;
	struct hz_net_info ninfo;
	struct hz_frame fr = {0};
	hz_handle_t h = -7;
	struct disk d;

	(void)state;
	disk_open(&d, DISK_SIZE);
	assert_int_equal(hz_platform_block_acquire("nope", &h, &info),
			 -HZ_ENOENT);
	assert_int_equal(h, -7);
	/* A block device is not a net device, by name or by handle. */
	assert_int_equal(hz_platform_net_acquire("disk", &h, &ninfo),
			 -HZ_ENOENT);
	assert_int_equal(hz_platform_net_read(d.h, &fr, 1), -HZ_EINVAL);
	assert_int_equal(hz_platform_net_write(d.h, &fr, 1), -HZ_EINVAL);
	/* Acquiring twice gives the same device. */
	assert_int_equal(hz_platform_block_acquire("disk", &h, &info), 0);
	assert_int_equal(h, d.h);
	assert_int_equal(info.capacity, DISK_SIZE);
	disk_close(&d);
	/* After unbinding, the name and the handle are gone. */
	assert_int_equal(hz_platform_block_acquire("disk", &h, &info),
			 -HZ_ENOENT);
	assert_int_equal(hz_platform_block_flush(d.h), -HZ_EINVAL);
}

static void bind_errors_are_explained(void **state)
{
	struct hz_errmsg err = {0};
	char name[HZ_DEVICE_NAME_MAX + 1];
	struct disk d;

	(void)state;
	disk_open(&d, DISK_SIZE);
	assert_int_equal(hz_unix_bind_file("disk", d.path, &err), -HZ_EEXIST);
	assert_int_equal(err.code, -HZ_EEXIST);
	assert_non_null(strstr(hz_errmsg_text(&err), "'disk'"));

	hz_errmsg_clear(&err);
	assert_true(hz_unix_bind_file("other", "/nonexistent/haze.img", &err) <
		    0);
	assert_true(err.code < 0);
	assert_non_null(strstr(hz_errmsg_text(&err), "/nonexistent/haze.img"));

	hz_errmsg_clear(&err);
	assert_true(hz_unix_bind_file("other", "/tmp", &err) < 0);
	assert_non_null(strstr(hz_errmsg_text(&err), "/tmp"));

	hz_errmsg_clear(&err);
	assert_true(hz_unix_bind_file("other", "/dev/null", &err) < 0);
	assert_non_null(strstr(hz_errmsg_text(&err), "/dev/null"));

	hz_errmsg_clear(&err);
	assert_int_equal(hz_unix_bind_file("", d.path, &err), -HZ_EINVAL);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(hz_unix_bind_file(name, d.path, &err), -HZ_EINVAL);
	name[HZ_DEVICE_NAME_MAX - 1] = '\0'; /* 31 characters: fits */
	assert_int_equal(hz_unix_bind_file(name, d.path, &err), 0);

	/* The failures left the first binding working. */
	assert_int_equal(hz_platform_block_write(d.h, 0, name, 0), 0);
	assert_int_equal(hz_platform_block_flush(d.h), 0);
	disk_close(&d);
}

/* --- manifests ------------------------------------------------------------ */

static void manifest_init(struct hz_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->note_namesz = sizeof(HZ_NOTE_OWNER);
	m->note_descsz = HZ_MANIFEST_DESC_SIZE;
	m->note_type = HZ_NOTE_MANIFEST;
	memcpy(m->note_name, HZ_NOTE_OWNER, sizeof(HZ_NOTE_OWNER));
	m->version = HZ_MANIFEST_VERSION;
}

static void manifest_add(struct hz_manifest *m, enum hz_device_kind kind,
			 const char *name)
{
	struct hz_manifest_entry *e = &m->entries[m->count++];

	e->kind = kind;
	memcpy(e->name, name, strlen(name) + 1);
}

/* Checks bindings @b against @m; returns the code, message in @err. */
static int check(const struct hz_manifest *m, const struct hz_host_binding *b,
		 size_t n, struct hz_errmsg *err)
{
	hz_errmsg_clear(err);
	return hz_host_check_bindings(m, b, n, err);
}

static void bindings_checked_against_manifest(void **state)
{
	const struct hz_host_binding disk = {HZ_DEVICE_KIND_BLOCK, "disk",
					     "/nonexistent/a"};
	const struct hz_host_binding svc = {HZ_DEVICE_KIND_NET, "service",
					    "hz-no-such"};
	struct hz_host_binding b[3] = {disk, svc, disk};
	struct hz_errmsg err = {0};
	char name[HZ_DEVICE_NAME_MAX + 8];
	struct hz_manifest m;

	(void)state;
	manifest_init(&m);
	manifest_add(&m, HZ_DEVICE_KIND_BLOCK, "disk");
	/* Only names and kinds are checked: the file need not exist. */
	assert_int_equal(check(&m, b, 1, &err), 0);

	/* A declared device left unbound. */
	manifest_add(&m, HZ_DEVICE_KIND_NET, "service");
	assert_int_equal(check(&m, b, 1, &err), -HZ_EINVAL);
	assert_string_equal(hz_errmsg_text(&err),
			    "net device 'service' is not bound "
			    "(use --net service=...)");
	assert_int_equal(check(&m, b, 2, &err), 0);
	/* ...unless it is optional. */
	m.entries[1].flags |= HZ_DEVICE_OPTIONAL;
	assert_int_equal(check(&m, b, 1, &err), 0);

	/* The same name bound twice, even to the same file. */
	assert_int_equal(check(&m, b, 3, &err), -HZ_EEXIST);
	assert_string_equal(hz_errmsg_text(&err),
			    "--block disk: device 'disk' is bound twice");
	b[2].kind = HZ_DEVICE_KIND_NET;
	assert_int_equal(check(&m, b, 3, &err), -HZ_EEXIST);

	/* A binding the manifest does not declare. */
	manifest_init(&m);
	assert_int_equal(check(&m, b, 1, &err), -HZ_EINVAL);
	assert_string_equal(
	    hz_errmsg_text(&err),
	    "--block disk: the unikernel declares no block device 'disk'");
	assert_int_equal(check(&m, &svc, 1, &err), -HZ_EINVAL);
	assert_string_equal(
	    hz_errmsg_text(&err),
	    "--net service: the unikernel declares no net device 'service'");

	/* Declared, but as the other kind. */
	manifest_add(&m, HZ_DEVICE_KIND_NET, "disk");
	assert_int_equal(check(&m, b, 1, &err), -HZ_EINVAL);
	assert_string_equal(hz_errmsg_text(&err),
			    "--block disk: the unikernel declares 'disk' as a "
			    "net device, not block");

	/* Names that no manifest can hold are refused by the parser. */
	b[0].name[0] = '\0';
	assert_int_equal(check(&m, b, 1, &err), -HZ_EINVAL);
	memset(name, 'n', HZ_DEVICE_NAME_MAX);
	memcpy(name + HZ_DEVICE_NAME_MAX, "=x", 3);
	assert_int_equal(hz_host_parse_binding("--block", name,
					       HZ_DEVICE_KIND_BLOCK, &b[0],
					       &err),
			 -HZ_EINVAL);
	assert_non_null(strstr(hz_errmsg_text(&err), "device name longer"));
	assert_int_equal(hz_host_parse_binding("--block", "disk",
					       HZ_DEVICE_KIND_BLOCK, &b[0],
					       &err),
			 -HZ_EINVAL);
	assert_string_equal(hz_errmsg_text(&err),
			    "--block disk: wants NAME=VALUE");
	assert_int_equal(hz_host_parse_binding("--block",
					       "disk=", HZ_DEVICE_KIND_BLOCK,
					       &b[0], &err),
			 -HZ_EINVAL);
	assert_int_equal(hz_host_parse_binding("--net", "svc=tap:x=y",
					       HZ_DEVICE_KIND_NET, &b[0], &err),
			 0);
	assert_string_equal(b[0].name, "svc");
	assert_string_equal(b[0].target, "tap:x=y");

	/* The library's empty default manifest, with nothing bound. */
	assert_int_equal(check(&hz_manifest, NULL, 0, &err), 0);
}

/* --mem: whole MiB within the caller's range, nothing else. */
static void mem_option_parsed(void **state)
{
	struct hz_errmsg err = {0};
	uint64_t bytes = 0;

	(void)state;
	assert_int_equal(hz_host_parse_mem("64", 4, 3072, &bytes, &err), 0);
	assert_int_equal(bytes, 64ull << 20);
	assert_int_equal(hz_host_parse_mem("3072", 4, 3072, &bytes, &err), 0);
	static const char *const bad[] = {
	    "",	  "3",	"3073", "-1",	"+8",
	    " 8", "8 ", "8M",	"0x10", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bytes = 7;
		assert_int_equal(
		    hz_host_parse_mem(bad[i], 4, 3072, &bytes, &err),
		    -HZ_EINVAL);
		assert_int_equal(bytes, 7);
	}
	assert_string_equal(hz_errmsg_text(&err),
			    "--mem 99999999999999999999999: expected a size "
			    "in MiB from 4 to 3072");
}

static void manifest_validate_rejects_bad_images(void **state)
{
	struct hz_manifest m;
	const char *why;

	(void)state;
	assert_int_equal(hz_manifest_validate(&hz_manifest, &why), 0);
	assert_null(why);
	assert_int_equal(hz_manifest.count, 0);

	manifest_init(&m);
	manifest_add(&m, HZ_DEVICE_KIND_NET, "service");
	manifest_add(&m, HZ_DEVICE_KIND_BLOCK, "disk");
	assert_int_equal(hz_manifest_validate(&m, &why), 0);
	assert_null(why);
	assert_int_equal(hz_manifest_find(&m, HZ_DEVICE_KIND_BLOCK, "disk"), 1);
	assert_int_equal(hz_manifest_find(&m, HZ_DEVICE_KIND_NET, "disk"),
			 -HZ_ENOENT);
	assert_int_equal(hz_manifest_find(&m, HZ_DEVICE_KIND_NET, "serv"),
			 -HZ_ENOENT);

#define REJECTS(mutation)                                                     \
	do {                                                                  \
		struct hz_manifest b = m;                                     \
		why = NULL;                                                   \
		mutation;                                                     \
		assert_int_equal(hz_manifest_validate(&b, &why), -HZ_EINVAL); \
		assert_non_null(why);                                         \
	} while (0)

	REJECTS(b.version = 0);
	REJECTS(b.version = HZ_MANIFEST_VERSION + 1);
	REJECTS(b.count = HZ_MANIFEST_MAX + 1);
	REJECTS(b.count = UINT32_MAX);
	REJECTS(b.entries[1].kind = HZ_DEVICE_NONE);
	REJECTS(b.entries[1].kind = 3);
	REJECTS(memset(b.entries[0].name, 'a', HZ_DEVICE_NAME_MAX));
	REJECTS(b.entries[1].name[0] = '\0');
	REJECTS(memcpy(b.entries[1].name, "service", 8));
	/* Characters the bindings separate their parts with. */
	REJECTS(memcpy(b.entries[1].name, "a=b", 4));
	REJECTS(memcpy(b.entries[1].name, "a,b", 4));
	REJECTS(memcpy(b.entries[1].name, "a:b", 4));
	REJECTS(memcpy(b.entries[1].name, "a b", 4));
	REJECTS(memcpy(b.entries[1].name, "a/b", 4));
	{
		struct hz_manifest b = m;

		memcpy(b.entries[1].name, "Disk-2_a.img", 13);
		assert_int_equal(hz_manifest_validate(&b, &why), 0);
	}
	REJECTS(b.note_type = 0);
	REJECTS(b.note_namesz = 4);
	REJECTS(b.note_name[0] = 'X');
	REJECTS(b.note_descsz -= 4);
	/* An entry past count is not looked at; a third one is. */
	{
		struct hz_manifest b = m;

		memset(b.entries[2].name, 'z', HZ_DEVICE_NAME_MAX);
		assert_int_equal(hz_manifest_validate(&b, &why), 0);
	}
	REJECTS((b.count = 3, b.entries[2].kind = HZ_DEVICE_KIND_NET));

	/* A full manifest of distinct names is fine. */
	manifest_init(&m);
	for (int i = 0; i < HZ_MANIFEST_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "dev%d", i);
		manifest_add(&m,
			     i % 2 ? HZ_DEVICE_KIND_NET : HZ_DEVICE_KIND_BLOCK,
			     name);
	}
	assert_int_equal(hz_manifest_validate(&m, &why), 0);
	REJECTS(memcpy(b.entries[15].name, "dev0", 5));
#undef REJECTS
}

/* --- entropy and clocks --------------------------------------------------- */

static void entropy_fills_and_differs(void **state)
{
	static uint8_t big[100000];
	uint8_t a[32], b[32], zero[32] = {0};

	(void)state;
	assert_int_equal(hz_platform_entropy(a, sizeof(a)), 32);
	assert_int_equal(hz_platform_entropy(b, sizeof(b)), 32);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(hz_platform_entropy(a, 0), 0);
	memset(big, 0, sizeof(big));
	assert_int_equal(hz_platform_entropy(big, sizeof(big)), sizeof(big));
	/* The tail was filled too (long reads may come back in pieces). */
	assert_memory_not_equal(big + sizeof(big) - 32, zero, 32);
}

static void clocks_behave(void **state)
{
	uint64_t prev = hz_platform_clock_monotonic(), wall, t;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		t = hz_platform_clock_monotonic();
		assert_true(t >= prev);
		prev = t;
	}
	t = hz_now();
	assert_true(t >= prev);
	wall = hz_platform_clock_wall();
	assert_true(wall > 1577836800ull * HZ_NS_PER_S); /* 2020-01-01 */
	assert_true(wall < 4102444800ull * HZ_NS_PER_S); /* 2100-01-01 */
}

/* --- watched descriptors -------------------------------------------------- */

static void watch_slots_are_reused(void **state)
{
	int p[2], fds[HZ_HANDLE_MAX + 1];
	hz_handle_t h, first, full[HZ_HANDLE_MAX];

	(void)state;
	hz_unix_unbind_all();
	assert_int_equal(pipe(p), 0);
	/* Far more watch/unwatch cycles than there are handles. */
	assert_int_equal(hz_unix_watch_fd(p[0], &first), 0);
	hz_unix_unwatch_fd(first);
	for (int i = 0; i < 4 * HZ_HANDLE_MAX; i++) {
		assert_int_equal(hz_unix_watch_fd(p[0], &h), 0);
		assert_int_equal(h, first);
		hz_unix_unwatch_fd(h);
	}
	/* Every handle in use: the next watch fails until one is freed. */
	for (int i = 0; i <= HZ_HANDLE_MAX; i++) {
		fds[i] = dup(p[0]);
		assert_true(fds[i] >= 0);
	}
	for (int i = 0; i < HZ_HANDLE_MAX; i++)
		assert_int_equal(hz_unix_watch_fd(fds[i], &full[i]), 0);
	assert_int_equal(hz_unix_watch_fd(fds[HZ_HANDLE_MAX], &h), -HZ_ENOSPC);
	hz_unix_unwatch_fd(full[17]);
	assert_int_equal(hz_unix_watch_fd(fds[HZ_HANDLE_MAX], &h), 0);
	assert_int_equal(h, full[17]);
	for (int i = 0; i < HZ_HANDLE_MAX; i++)
		hz_unix_unwatch_fd(i);
	/* Unwatching left the descriptors open: they are the caller's. */
	for (int i = 0; i <= HZ_HANDLE_MAX; i++)
		assert_int_equal(close(fds[i]), 0);
	hz_unix_unbind_all();
	assert_int_equal(close(p[0]), 0);
	close(p[1]);
}

/* A device (a pipe's read end) and the fibers that wait on it. */
struct waited {
	int p[2];
	hz_handle_t h;
	int result[2];
	uint64_t woke[2]; /* when each waiter returned */
	int started, done;
	struct hz_waitq done_q;
	uint64_t t0;
};

static void device_waiter(void *arg)
{
	struct waited *w = arg;
	int i = w->started++;

	w->result[i] = hz_device_wait(w->h, hz_now() + 2 * HZ_NS_PER_S);
	w->woke[i] = hz_now();
	if (++w->done == 2)
		(void)hz_waitq_wake_one(&w->done_q); /* main waits there */
}

static int device_wait_main(void *arg)
{
	struct waited *w = arg;
	struct hz_sched_stats before, after;
	hz_ready_set_t ready;
	uint64_t t;
	char c = 'x';

	/* Nothing to read: the wait ends at its deadline, not before. */
	t = hz_now();
	HARNESS_CHECK(hz_device_wait(w->h, t + 30 * HZ_NS_PER_MS) ==
		      -HZ_ETIMEDOUT);
	HARNESS_CHECK(hz_now() - t >= 30 * HZ_NS_PER_MS);

	/* Two waiters, both woken by one byte written 20 ms later. */
	for (int i = 0; i < 2; i++)
		if (hz_fiber_spawn("waiter", device_waiter, w, 0) < 0)
			return -HZ_ENOMEM;
	w->t0 = hz_now();
	hz_sleep_ns(20 * HZ_NS_PER_MS);
	HARNESS_CHECK(w->done == 0);
	HARNESS_CHECK(write(w->p[1], &c, 1) == 1);
	if (hz_waitq_wait(&w->done_q, hz_now() + HZ_NS_PER_S) < 0)
		return -HZ_ETIMEDOUT;
	for (int i = 0; i < 2; i++) {
		HARNESS_CHECK(w->result[i] == 0);
		HARNESS_CHECK(w->woke[i] - w->t0 >= 20 * HZ_NS_PER_MS);
		HARNESS_CHECK(w->woke[i] - w->t0 < HZ_NS_PER_S);
	}

	/* Level-triggered: the byte still waits, so a new wait returns now. */
	t = hz_now();
	HARNESS_CHECK(hz_device_wait(w->h, t + HZ_NS_PER_S) == 0);
	HARNESS_CHECK(hz_now() - t < 500 * HZ_NS_PER_MS);
	/* Outside the interest set, the ready pipe is neither reported nor
	 * ends the wait; inside it, it is both. */
	t = hz_now();
	hz_platform_yield(t + 20 * HZ_NS_PER_MS, 0, &ready);
	HARNESS_CHECK(ready == 0);
	HARNESS_CHECK(hz_now() - t >= 20 * HZ_NS_PER_MS);
	hz_platform_yield(hz_now() + HZ_NS_PER_S, (hz_ready_set_t)1 << w->h,
			  &ready);
	HARNESS_CHECK(ready == (hz_ready_set_t)1 << w->h);
	/* So a ready device nobody waits on does not keep the loop busy:
	 * a 30 ms sleep takes a yield or two, not thousands. */
	hz_sched_stats(&before);
	hz_sleep_ns(30 * HZ_NS_PER_MS);
	hz_sched_stats(&after);
	HARNESS_CHECK(after.yields - before.yields < 10);
	/* Drained, it waits again until the deadline. */
	HARNESS_CHECK(read(w->p[0], &c, 1) == 1);
	t = hz_now();
	HARNESS_CHECK(hz_device_wait(w->h, t + 10 * HZ_NS_PER_MS) ==
		      -HZ_ETIMEDOUT);
	HARNESS_CHECK(hz_now() - t >= 10 * HZ_NS_PER_MS);
	return 0;
}

static void device_wait_wakes_on_ready(void **state)
{
	struct waited w = {0};

	(void)state;
	hz_unix_unbind_all();
	assert_int_equal(pipe(w.p), 0);
	assert_int_equal(fcntl(w.p[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(hz_unix_watch_fd(w.p[0], &w.h), 0);
	assert_int_equal(harness_run_fibers(device_wait_main, &w), 0);
	hz_unix_unwatch_fd(w.h);
	close(w.p[0]);
	close(w.p[1]);
}

/* --- tap ------------------------------------------------------------------ */

static void tap_binds_as_root(void **state)
{
	struct hz_errmsg err = {0};
	struct hz_net_info info;
	uint8_t frame[2000] = {0};
	struct hz_frame fr = {.buf = frame, .cap = sizeof(frame)};
	hz_handle_t h;
	int fd;

	(void)state;
	if (getuid() != 0)
		skip();
	fd = open("/dev/net/tun", O_RDWR);
	if (fd < 0)
		skip();
	close(fd);

	hz_unix_unbind_all();
	if (hz_unix_bind_tap("net0", "hzt0", &err) != 0)
		fail_msg("bind tap: %s", hz_errmsg_text(&err));
	assert_int_equal(access("/sys/class/net/hzt0", F_OK), 0);
	assert_int_equal(hz_unix_bind_tap("net0", "hzt1", &err), -HZ_EEXIST);
	assert_int_equal(hz_platform_net_acquire("net0", &h, &info), 0);
	assert_int_equal(info.mtu, 1500);
	assert_int_equal(info.gso_max, 65535); /* the tap segments TCP */
	/* and coalesces it: receive offload on a tap opened here */
	assert_int_equal(info.rx_max, 14 + 65535);
	assert_int_equal(info.mac[0] & 1, 0); /* unicast */
	assert_int_equal(info.mac[0] & 2, 2); /* locally administered */
	/* Down and quiet: nothing to read. Too long to send. */
	assert_int_equal(hz_platform_net_read(h, &fr, 1), -HZ_EAGAIN);
	fr.len = 1500 + 14 + 1;
	assert_int_equal(hz_platform_net_write(h, &fr, 1), -HZ_EMSGSIZE);
	/* To be segmented: it may be longer, but must be TCP/IPv4. */
	fr.gso_size = 1448;
	assert_int_equal(hz_platform_net_write(h, &fr, 1), -HZ_EINVAL);
	fr.len = 65535 + 14 + 1;
	assert_int_equal(hz_platform_net_write(h, &fr, 1), -HZ_EMSGSIZE);
	fr.gso_size = 0;
	assert_int_equal(hz_platform_block_flush(h), -HZ_EINVAL);
	hz_unix_unbind_all();
	/* Not persistent: closing it removed the interface. */
	assert_int_equal(access("/sys/class/net/hzt0", F_OK), -1);
	assert_int_equal(hz_platform_net_acquire("net0", &h, &info),
			 -HZ_ENOENT);

	assert_int_equal(
	    hz_unix_bind_tap("net0", "a-name-longer-than-ifnamsiz", &err),
	    -HZ_EINVAL);
	assert_non_null(
	    strstr(hz_errmsg_text(&err), "a-name-longer-than-ifnamsiz"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(block_write_read_verify),
	    HARNESS_TEST(block_rejects_bad_requests),
	    HARNESS_TEST(host_failures_are_logged),
	    HARNESS_TEST(acquire_by_name_and_kind),
	    HARNESS_TEST(bind_errors_are_explained),
	    HARNESS_TEST(bindings_checked_against_manifest),
	    HARNESS_TEST(mem_option_parsed),
	    HARNESS_TEST(manifest_validate_rejects_bad_images),
	    HARNESS_TEST(entropy_fills_and_differs),
	    HARNESS_TEST(clocks_behave),
	    HARNESS_TEST(watch_slots_are_reused),
	    HARNESS_TEST(device_wait_wakes_on_ready),
	    HARNESS_TEST(tap_binds_as_root),
	};

	return HARNESS_RUN("platform_unix", tests);
}
