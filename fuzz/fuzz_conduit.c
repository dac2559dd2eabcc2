/*
 * libFuzzer harness: endpoint strings through hz_endpoint_parse. What it
 * accepts must be what it promises: a known scheme, a port of 1..65535,
 * a host that is a literal address or a name of at most 253 bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "haze/conduit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[HZ_ENDPOINT_MAX + 64];
	struct hz_endpoint ep;
	const char *why;

	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	if (hz_endpoint_parse(s, &ep, &why) < 0) {
		if (why == NULL || why[0] == '\0')
			abort();
		return 0;
	}
	if ((ep.scheme != HZ_ENDPOINT_TCP && ep.scheme != HZ_ENDPOINT_TLS) ||
	    ep.port == 0 || ep.host[0] == '\0' ||
	    strlen(ep.host) >= sizeof(ep.host) ||
	    (ep.literal && hz_ipv4_parse(ep.host, &ep.addr) < 0))
		abort();
	return 0;
}
