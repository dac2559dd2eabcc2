/*
 * @NAME@: a TCP echo server as a Haze unikernel, one fiber per
 * connection.
 *
 *   @NAME@ [--stack SPEC] [--port P]
 *
 * The stack is chosen on the command line: `--stack socket` is the host
 * kernel's sockets (unix target; haze run passes it), the default
 * `direct:service` is Haze's own TCP/IP on the NIC "service", its address
 * from DHCP (kvm target; haze run gives it user networking).
 */
#include <string.h>

#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/stack.h>

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"));
/* TCP's sequence numbers on the direct stack are drawn from Fortuna,
 * seeded by the runtime before hz_main. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

#define CONN_STACK (32u * 1024)

struct conn {
	struct hz_flow *flow;
};

/* Echoes one connection until its peer closes it, then frees it. */
static void serve(void *arg)
{
	struct conn *c = arg;
	struct hz_view v;
	int n;

	while ((n = hz_flow_read(c->flow, &v, HZ_DEADLINE_NEVER)) > 0) {
		ssize_t w = hz_flow_write(c->flow, hz_view_data(&v), v.len,
					  HZ_DEADLINE_NEVER);

		hz_view_release(&v);
		if (w < 0)
			break;
	}
	if (n == 0 && hz_flow_shutdown(c->flow) < 0)
		hz_printf("@NAME@: %s\n", hz_flow_error(c->flow));
	hz_flow_free(c->flow);
	hz_free(c);
}

static int usage(void)
{
	hz_printf("usage: @NAME@ [--stack SPEC] [--port P]\n");
	return 2;
}

int hz_main(int argc, char **argv)
{
	struct hz_sockaddr addr = {0, 7007};
	const char *spec = "direct:service";
	struct hz_errmsg err = {0};
	struct hz_listener *l;
	struct hz_stack *stack;

	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v != NULL && strcmp(argv[i], "--stack") == 0)
			spec = v;
		else if (v == NULL || strcmp(argv[i], "--port") != 0 ||
			 hz_port_parse(v, strlen(v), &addr.port) < 0)
			return usage();
	}
	if (hz_stack_open(spec, hz_now() + 30 * HZ_NS_PER_S, &stack, &err) <
	    0) {
		hz_printf("@NAME@: --stack %s: %s\n", spec,
			  hz_errmsg_text(&err));
		return 1;
	}
	if (hz_tcp_listen(stack, &addr, 128, &l) < 0) {
		hz_printf("@NAME@: %s\n", hz_stack_error(stack));
		return 1;
	}
	hz_printf("@NAME@: echoing TCP on port %u\n", addr.port);
	for (;;) {
		struct hz_flow *f;
		struct conn *c;
		int r = hz_tcp_accept(stack, l, HZ_DEADLINE_NEVER, &f);

		if (r < 0) {
			hz_printf("@NAME@: accept: %s\n", hz_strerror(r));
			return 1;
		}
		c = hz_malloc(sizeof(*c));
		if (c == NULL) {
			hz_flow_free(f);
			continue;
		}
		c->flow = f;
		if (hz_fiber_spawn("conn", serve, c, CONN_STACK) < 0) {
			hz_flow_free(f);
			hz_free(c);
		}
	}
}
