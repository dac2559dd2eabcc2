/*
 * The host-side option parsers of platform/host/options.h, used by the
 * unix target and haze-kvm alike.
 */
#include <limits.h>
#include <string.h>

#include "platform/host/options.h"

/* The option that binds a device of @kind. */
static const char *kind_name(uint32_t kind)
{
	return kind == HZ_DEVICE_KIND_NET ? "net" : "block";
}

int hz_host_parse_mem(const char *s, uint64_t min_mib, uint64_t max_mib,
		      uint64_t *bytes, struct hz_errmsg *err)
{
	uint64_t mib = 0;
	const char *p = s;

	/* Digits only: no sign, no spaces, no suffix strtoul would allow. */
	while (*p >= '0' && *p <= '9' && mib <= max_mib)
		mib = mib * 10 + (uint64_t)(*p++ - '0');
	if (p == s || *p != '\0' || mib < min_mib || mib > max_mib)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "--mem %s: expected a size in MiB from "
				     "%llu to %llu",
				     s, (unsigned long long)min_mib,
				     (unsigned long long)max_mib);
	*bytes = mib << 20;
	return 0;
}

int hz_host_parse_fd(const char *opt, const char *s, int *fd,
		     struct hz_errmsg *err)
{
	long long n = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9' && n <= INT_MAX)
		n = n * 10 + (*p++ - '0');
	if (p == s || *p != '\0' || n > INT_MAX)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "%s %s: expected a descriptor number", opt,
				     s);
	*fd = (int)n;
	return 0;
}

int hz_host_parse_binding(const char *opt, const char *arg,
			  enum hz_device_kind kind, struct hz_host_binding *b,
			  struct hz_errmsg *err)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || eq[1] == '\0')
		return hz_errmsg_set(err, -HZ_EINVAL, "%s %s: wants NAME=VALUE",
				     opt, arg);
	if ((size_t)(eq - arg) >= sizeof(b->name))
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "%s %s: device name longer than %d bytes",
				     opt, arg, HZ_DEVICE_NAME_MAX - 1);
	b->kind = kind;
	memcpy(b->name, arg, (size_t)(eq - arg));
	b->name[eq - arg] = '\0';
	b->target = eq + 1;
	return 0;
}

/* Checks that @b names a device the manifest declares with its kind. */
static int check_declared(const struct hz_manifest *m,
			  const struct hz_host_binding *b,
			  struct hz_errmsg *err)
{
	uint32_t other = b->kind == HZ_DEVICE_KIND_NET ? HZ_DEVICE_KIND_BLOCK
						       : HZ_DEVICE_KIND_NET;

	if (hz_manifest_find(m, b->kind, b->name) >= 0)
		return 0;
	if (hz_manifest_find(m, other, b->name) >= 0)
		return hz_errmsg_set(
		    err, -HZ_EINVAL,
		    "--%s %s: the unikernel declares '%s' as a %s device, "
		    "not %s",
		    kind_name(b->kind), b->name, b->name, kind_name(other),
		    kind_name(b->kind));
	return hz_errmsg_set(
	    err, -HZ_EINVAL,
	    "--%s %s: the unikernel declares no %s device '%s'",
	    kind_name(b->kind), b->name, kind_name(b->kind), b->name);
}

int hz_host_check_bindings(const struct hz_manifest *m,
			   const struct hz_host_binding *b, size_t n,
			   struct hz_errmsg *err)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i].name[0] == '\0')
			return hz_errmsg_set(err, -HZ_EINVAL,
					     "--%s: empty device name",
					     kind_name(b[i].kind));
		for (size_t j = 0; j < i; j++)
			if (strcmp(b[j].name, b[i].name) == 0)
				return hz_errmsg_set(
				    err, -HZ_EEXIST,
				    "--%s %s: device '%s' is bound twice",
				    kind_name(b[i].kind), b[i].name, b[i].name);
		int r = check_declared(m, &b[i], err);
		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < m->count; i++) {
		const struct hz_manifest_entry *e = &m->entries[i];
		bool bound = false;

		for (size_t j = 0; j < n; j++)
			bound |= b[j].kind == e->kind &&
				 strcmp(b[j].name, e->name) == 0;
		if (!bound && !(e->flags & HZ_DEVICE_OPTIONAL))
			return hz_errmsg_set(
			    err, -HZ_EINVAL,
			    "%s device '%s' is not bound (use --%s %s=...)",
			    kind_name(e->kind), e->name, kind_name(e->kind),
			    e->name);
	}
	return 0;
}
