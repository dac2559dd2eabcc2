/*
 * @NAME@: a static web site as a Haze unikernel. Its pages come from a
 * read-only KV store (haze/kv.h): by default the files of site/, compiled
 * into the image (the Makefile runs `haze crunch`); with --site DEVICE, a
 * tar archive on that block device, for a site too large for the image
 * or new pages without a rebuild:
 *
 *   tar -C site -cf site.tar . && haze run --block site=site.tar -- --site site
 *
 * It answers GET and HEAD over HTTP. A path is percent-decoded, its empty
 * and "." segments dropped; "/" and "/dir/" serve index.html, "/dir" is a
 * 301 to "/dir/" (so relative links resolve), a path that no file can
 * have (a ".." segment, an encoded '/', a control byte, a bad escape) is
 * 400, a file not in the store 404. One access log line per request.
 *
 *   @NAME@ [--stack SPEC] [--port P] [--site DEVICE]
 *
 * The stack is chosen on the command line: `--stack socket` is the host
 * kernel's sockets (unix target; haze run passes it), the default
 * `direct:service` is Haze's own TCP/IP on the NIC "service" (kvm and
 * virtio targets; haze run gives it user networking).
 */
#include <stdio.h>
#include <string.h>

#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/http.h>
#include <haze/kv.h>
#include <haze/stack.h>

#include "site_kv.h" /* static const hz_kv_image site_kv, from site/ */

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"),
	    HZ_DEVICE_BLOCK_OPTIONAL("site"));
HZ_RANDOM_SOURCE(&hz_entropy_random);

#define CHUNK (16u * 1024) /* a tar store on its device: read per write */
/* A tar archive up to this size is read into memory at start (when a
 * quarter of the free heap holds it) and served without a read per
 * request; a larger one is read from the device as it is served. */
#define SITE_IN_MEMORY_MAX (64u << 20)
#define INDEX "index.html"

static struct hz_kv *site;

/*
 * Answers with file @e of the store: its bytes where they lie in memory,
 * or read from the device a chunk at a time (a large tar store).
 */
static int send_file(struct hz_http_request *r, const struct hz_kv_entry *e)
{
	const struct hz_http_header h[] = {{"Content-Type", e->content_type},
					   {"ETag", e->etag}};
	const void *bytes;
	uint8_t *buf;
	int rc;

	if (hz_kv_bytes(site, e, HZ_KV_IDENTITY, &bytes) == 0)
		return hz_http_respond(r, 200, h, 2, bytes, (size_t)e->size);
	if (r->method == HZ_HTTP_HEAD) {
		rc = hz_http_stream_begin(r, 200, h, 2, (int64_t)e->size);
		return rc < 0 ? rc : hz_http_stream_end(r);
	}
	/* The buffer before the head: short of memory, a 503 the client
	 * can retry rather than a 200 whose body never comes. */
	buf = hz_malloc(CHUNK);
	if (buf == NULL)
		return hz_http_respond_status(r, 503);
	rc = hz_http_stream_begin(r, 200, h, 2, (int64_t)e->size);
	for (uint64_t off = 0; off < e->size && rc == 0;) {
		ssize_t got =
		    hz_kv_read(site, e, HZ_KV_IDENTITY, off, buf, CHUNK);
		if (got <= 0) {
			hz_printf("@NAME@: %s\n", hz_kv_error(site));
			rc = got < 0 ? (int)got : -HZ_EIO;
			break;
		}
		rc = hz_http_stream_write(r, buf, (size_t)got);
		off += (uint64_t)got;
	}
	hz_free(buf);
	return rc < 0 ? rc : hz_http_stream_end(r);
}

/* Whether @key names a directory of the store: one with an index page
 * (hz_http_path_name leaves room after @key for "/index.html"). */
static bool is_dir(const char *key)
{
	char index[HZ_KV_KEY_MAX + 1];
	struct hz_kv_entry e;
	int n = snprintf(index, sizeof(index), "%s/" INDEX, key);

	return n > 0 && (size_t)n < sizeof(index) &&
	       hz_kv_lookup(site, index, &e) == 0;
}

/* Answers one request from the store. */
static void handle(struct hz_http_request *r, void *arg)
{
	char key[HZ_KV_KEY_MAX + 1];
	char location[3 * HZ_KV_KEY_MAX + 256];
	struct hz_kv_entry e;
	bool dir;
	int rc;

	(void)arg;
	if (r->method != HZ_HTTP_GET && r->method != HZ_HTTP_HEAD) {
		rc = hz_http_respond_405(r, "GET, HEAD");
	} else if (hz_http_path_name(r->path, INDEX, key, sizeof(key), &dir) <
		   0) {
		rc = hz_http_respond_status(r, 400); /* ".." and the like */
	} else if (hz_kv_lookup(site, key, &e) == 0) {
		rc = send_file(r, &e);
	} else if (!dir && is_dir(key)) {
		/* A directory named without its '/': send the client there,
		 * so that the relative links of its index.html resolve. */
		const char *query = strchr(r->path, '?');
		rc = hz_http_dir_location(key, query != NULL ? query : "",
					  location, sizeof(location));
		const struct hz_http_header h[] = {{"Location", location}};
		if (rc == 0)
			rc = hz_http_respond(r, 301, h, 1, NULL, 0);
	} else {
		rc = hz_http_respond_status(r, 404);
	}
	if (rc < 0)
		r->keep_alive = false;
}

/* Logs one exchange: method, target, status, microseconds. */
static void access_log(const struct hz_http_access *a, void *arg)
{
	(void)arg;
	hz_printf("@NAME@: %s %s %d %llu us\n", a->method, a->target, a->status,
		  (unsigned long long)((a->end_ns - a->start_ns) / 1000));
}

/* Opens the site: the compiled store, or the tar on block device @dev. */
static int site_open(const char *dev)
{
	const struct hz_kv_tar_params p = {.cache_max = SITE_IN_MEMORY_MAX};
	struct hz_errmsg err = {0};

	if (dev == NULL) {
		if (hz_kv_static_open(&site_kv, &site) < 0) {
			hz_printf("@NAME@: cannot open the compiled site\n");
			return -1;
		}
		return 0;
	}
	if (hz_kv_tar_open(dev, &p, &site, &err) < 0) {
		hz_printf("@NAME@: --site %s: %s\n", dev, hz_errmsg_text(&err));
		return -1;
	}
	return 0;
}

int hz_main(int argc, char **argv)
{
	static struct hz_http_server server;
	struct hz_sockaddr addr = {0, 8080};
	const char *spec = "direct:service", *dev = NULL;
	struct hz_errmsg err = {0};
	struct hz_listener *l;
	struct hz_stack *stack;

	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v != NULL && strcmp(argv[i], "--stack") == 0)
			spec = v;
		else if (v != NULL && strcmp(argv[i], "--site") == 0)
			dev = v;
		else if (v == NULL || strcmp(argv[i], "--port") != 0 ||
			 hz_port_parse(v, strlen(v), &addr.port) < 0) {
			hz_printf("usage: @NAME@ [--stack SPEC] [--port P] "
				  "[--site DEVICE]\n");
			return 2;
		}
	}
	if (site_open(dev) < 0)
		return 1;
	if (hz_stack_open(spec, hz_now() + 30 * HZ_NS_PER_S, &stack, &err) <
	    0) {
		hz_printf("@NAME@: --stack %s: %s\n", spec,
			  hz_errmsg_text(&err));
		return 1;
	}
	if (hz_tcp_listen(stack, &addr, 128, &l) < 0) {
		hz_printf("@NAME@: port %u: %s\n", addr.port,
			  hz_stack_error(stack));
		return 1;
	}
	hz_http_server_init(&server, &(struct hz_http_server_config){
					 .handler = handle,
					 .access = access_log,
				     });
	hz_printf("@NAME@: %zu files from %s, HTTP on port %u\n",
		  hz_kv_count(site), dev != NULL ? dev : "the image",
		  addr.port);
	int r = hz_http_server_run_stack(&server, stack, l);
	hz_printf("@NAME@: server stopped: %s\n", hz_strerror(r));
	return 1;
}
