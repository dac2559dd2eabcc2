/*
 * @NAME@: a static web site as a Haze unikernel. The files of site/ are
 * compiled into the image as a KV store (the Makefile runs `haze crunch`)
 * and served over HTTP: GET and HEAD, index.html for a directory, 404
 * for the rest, one access log line per request.
 *
 *   @NAME@ [--stack SPEC] [--port P]
 *
 * The stack is chosen on the command line: `--stack socket` is the host
 * kernel's sockets (unix target; haze run passes it), the default
 * `direct:service` is Haze's own TCP/IP on the NIC "service" (kvm target;
 * haze run gives it user networking).
 */
#include <string.h>

#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/http.h>
#include <haze/kv.h>
#include <haze/stack.h>

#include "site_kv.h" /* static const hz_kv_image site_kv, from site/ */

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"));
HZ_RANDOM_SOURCE(&hz_entropy_random);

static struct hz_kv *site;

/*
 * The key of URL path @path in the store: without the leading '/', the
 * query cut, index.html for a directory. false for a path that cannot
 * name a file of the site.
 */
static bool key_of(const char *path, char key[HZ_KV_KEY_MAX + 1])
{
	size_t len = strcspn(path, "?#");

	if (len == 0 || path[0] != '/' || len > HZ_KV_KEY_MAX - 10)
		return false;
	memcpy(key, path + 1, len - 1);
	key[len - 1] = '\0';
	if (strstr(key, "..") != NULL)
		return false;
	if (len == 1 || key[len - 2] == '/')
		memcpy(key + len - 1, "index.html", sizeof("index.html"));
	return true;
}

/* Answers one request from the store. */
static void handle(struct hz_http_request *req, void *arg)
{
	char key[HZ_KV_KEY_MAX + 1];
	struct hz_kv_entry e;
	const void *body;

	(void)arg;
	if (req->method != HZ_HTTP_GET && req->method != HZ_HTTP_HEAD) {
		if (hz_http_respond_405(req, "GET, HEAD") < 0)
			req->keep_alive = false;
		return;
	}
	if (!key_of(req->path, key) || hz_kv_lookup(site, key, &e) < 0 ||
	    hz_kv_bytes(site, &e, HZ_KV_IDENTITY, &body) < 0) {
		if (hz_http_respond_status(req, 404) < 0)
			req->keep_alive = false;
		return;
	}
	struct hz_http_header h[] = {{"Content-Type", e.content_type},
				     {"ETag", e.etag}};
	if (hz_http_respond(req, 200, h, 2, body, (size_t)e.size) < 0)
		req->keep_alive = false;
}

/* Logs one exchange: method, target, status, microseconds. */
static void access_log(const struct hz_http_access *a, void *arg)
{
	(void)arg;
	hz_printf("@NAME@: %s %s %d %llu us\n", a->method, a->target, a->status,
		  (unsigned long long)((a->end_ns - a->start_ns) / 1000));
}

int hz_main(int argc, char **argv)
{
	static struct hz_http_server server;
	struct hz_sockaddr addr = {0, 8080};
	const char *spec = "direct:service";
	struct hz_errmsg err = {0};
	struct hz_listener *l;
	struct hz_stack *stack;

	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v != NULL && strcmp(argv[i], "--stack") == 0)
			spec = v;
		else if (v == NULL || strcmp(argv[i], "--port") != 0 ||
			 hz_port_parse(v, strlen(v), &addr.port) < 0) {
			hz_printf("usage: @NAME@ [--stack SPEC] [--port P]\n");
			return 2;
		}
	}
	if (hz_kv_static_open(&site_kv, &site) < 0) {
		hz_printf("@NAME@: cannot open the compiled site\n");
		return 1;
	}
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
	hz_printf("@NAME@: %zu files, HTTP on port %u\n", hz_kv_count(site),
		  addr.port);
	int r = hz_http_server_run_stack(&server, stack, l);
	hz_printf("@NAME@: server stopped: %s\n", hz_strerror(r));
	return 1;
}
