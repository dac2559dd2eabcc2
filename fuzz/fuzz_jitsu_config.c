/*
 * libFuzzer harness for haze-jitsu's configuration parser (jitsu/
 * config.c): the input is a configuration file. It is either refused with
 * a message naming the file, or accepted whole: then every service has a
 * name in the zone, a distinct address in the bridge's network and an
 * image, and the zone text built from it parses, or, if a record is
 * refused, the line the zone parser names is that record's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_heap.h"
#include "jitsu/jitsu.h"

#define FUZZ_HEAP (4u << 20)

static struct jitsu j;

FUZZ_HEAP_INITIALIZE(FUZZ_HEAP)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted configuration must keep the promises of config.c. */
static void check_accepted(void)
{
	static char text[1u << 20];
	struct hz_errmsg err = {0};
	struct hz_dns_zone z;
	size_t len;

	for (size_t i = 0; i < j.nsvc; i++) {
		if (j.svc[i].image[0] == '\0' || j.svc[i].addr.s_addr == 0 ||
		    j.svc[i].wire_len < 2 ||
		    j.svc[i].wire[j.svc[i].wire_len - 1] != 0)
			abort();
		for (size_t k = 0; k < i; k++)
			if (j.svc[k].addr.s_addr == j.svc[i].addr.s_addr ||
			    strcmp(j.svc[k].name, j.svc[i].name) == 0)
				abort();
	}
	len = jitsu_zone_text(&j, text, sizeof(text));
	if (len >= sizeof(text))
		return;
	/* Extra records may be refused by the zone parser; the generated
	 * part never is, and the line it names is a record's, which
	 * jitsu_zone_line_source finds in the configuration. */
	if (hz_dns_zone_load(&z, 16u << 20, NULL, text, len, &err) == 0) {
		hz_dns_zone_release(&z);
	} else {
		unsigned zline;
		bool is_record;

		if (j.nrecords == 0)
			abort();
		if (sscanf(hz_errmsg_text(&err), "zone line %u:", &zline) ==
			1 &&
		    (jitsu_zone_line_source(&j, zline, &is_record) == 0 ||
		     !is_record))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hz_errmsg err = {0};
	FILE *f = fmemopen((void *)data, size, "r");

	if (size == 0 || f == NULL) {
		if (f)
			fclose(f);
		return 0;
	}
	memset(&j, 0, sizeof(j));
	if (jitsu_config_load(&j, f, "fuzz.conf", &err) == 0)
		check_accepted();
	else if (strncmp(hz_errmsg_text(&err), "fuzz.conf", 9) != 0)
		abort();
	fclose(f);
	jitsu_config_free(&j);
	return 0;
}
