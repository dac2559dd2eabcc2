/*
 * Host sockets on the kvm target: there are none. A guest reaches the
 * network only through its NICs and Haze's own TCP/IP.
 */
#include "haze/platform.h"

int hz_platform_socket_stack(struct hz_stack **out)
{
	*out = NULL;
	return -HZ_ENOTSUP;
}
