/*
 * haze-kvm: runs a Haze unikernel image in a one-vCPU KVM VM.
 *
 *   haze-kvm [--mem MIB] [--net NAME=tap:IFACE]
 *            [--net NAME=user[,hostfwd=tcp:HOSTPORT-:GUESTPORT...]]
 *            [--block NAME=PATH] [--pcap NAME=FILE] [--trace]
 *            [--no-host-entropy] IMAGE [ARGS...]
 *
 * This file parses the command line, binds host resources to the devices
 * of the image's manifest (refusing a missing, unknown or duplicate
 * binding before boot), then sets up the VM, sandboxes the process and
 * runs the guest. Exit statuses are in platform/kvm/abi.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tender.h"

#define MEM_DEFAULT_MIB 32
#define BIND_MAX 32

/* One --net, --block or --pcap option, before the manifest is known. */
struct binding {
	enum { BIND_NET, BIND_BLOCK, BIND_PCAP } what;
	char name[HZ_DEVICE_NAME_MAX];
	const char *value;
};

static const char *const bind_opt[] = {"--net", "--block", "--pcap"};

static HZ_NORETURN void usage(const char *why)
{
	if (why)
		hz_tender_log("%s", why);
	fprintf(stderr,
		"usage: haze-kvm [--mem MIB] [--net NAME=tap:IFACE]\n"
		"                [--net NAME=user[,hostfwd=tcp:HOSTPORT-:"
		"GUESTPORT...]]\n"
		"                [--block NAME=PATH] [--pcap NAME=FILE] "
		"[--trace]\n"
		"                [--no-host-entropy] IMAGE [ARGS...]\n");
	exit(HZ_KVM_EXIT_USAGE);
}

/* Parses "NAME=VALUE" of option @opt into @b. */
static void parse_binding(struct binding *b, const char *opt, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char msg[128];
	if (!eq || eq == arg || eq[1] == '\0') {
		snprintf(msg, sizeof(msg), "%s %s: expected NAME=VALUE", opt,
			 arg);
		usage(msg);
	}
	if ((size_t)(eq - arg) >= sizeof(b->name)) {
		snprintf(msg, sizeof(msg), "%s: device name too long", opt);
		usage(msg);
	}
	memcpy(b->name, arg, (size_t)(eq - arg));
	b->name[eq - arg] = '\0';
	b->value = eq + 1;
}

/* Parses a decimal port number; 0 if invalid. */
static uint16_t parse_port(const char *s, const char **end)
{
	unsigned long v = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9' && v <= 65535)
		v = v * 10 + (unsigned long)(*p++ - '0');
	*end = p;
	return p == s || v == 0 || v > 65535 ? 0 : (uint16_t)v;
}

/* Parses the value of --net NAME=VALUE into @nb; 0 or -1. */
static int parse_net(struct hz_net_binding *nb, const char *name, const char *v)
{
	if (strncmp(v, "tap:", 4) == 0) {
		nb->backend = HZ_NET_TAP;
		size_t len = strlen(v + 4);
		if (len == 0 || len >= sizeof(nb->iface)) {
			hz_tender_log("--net %s: bad tap interface name '%s'",
				      name, v + 4);
			return -1;
		}
		memcpy(nb->iface, v + 4, len + 1);
		return 0;
	}
	if (strncmp(v, "user", 4) != 0 || (v[4] != '\0' && v[4] != ',')) {
		hz_tender_log("--net %s: unknown backend '%s' (tap:IFACE or "
			      "user)",
			      name, v);
		return -1;
	}
	nb->backend = HZ_NET_USER;
	const char *p = v + 4;
	while (*p == ',') {
		p++;
		const char *end;
		if (strncmp(p, "hostfwd=tcp:", 12) != 0)
			goto bad;
		/* hostfwd=tcp:[127.0.0.1]:HOSTPORT-:GUESTPORT */
		p += 12;
		if (strncmp(p, "127.0.0.1:", 10) == 0)
			p += 10;
		else if (*p == ':')
			p++;
		uint16_t hp = parse_port(p, &end);
		if (!hp || strncmp(end, "-:", 2) != 0)
			goto bad;
		uint16_t gp = parse_port(end + 2, &end);
		if (!gp || (*end != '\0' && *end != ','))
			goto bad;
		if (nb->nfwd == HZ_HOSTFWD_MAX) {
			hz_tender_log("--net %s: at most %d hostfwd", name,
				      HZ_HOSTFWD_MAX);
			return -1;
		}
		nb->fwd_host[nb->nfwd] = hp;
		nb->fwd_guest[nb->nfwd++] = gp;
		p = end;
	}
	if (*p == '\0')
		return 0;
bad:
	hz_tender_log("--net %s: cannot parse '%s' (expected "
		      "user[,hostfwd=tcp:HOSTPORT-:GUESTPORT...])",
		      name, v);
	return -1;
}

/* Binds @binds to the manifest's devices into vm->dev; 0 or -1. */
static int bind_devices(struct hz_vm *vm, const struct binding *binds,
			unsigned nbinds)
{
	const struct hz_manifest *m = &vm->image.manifest;
	static const char *const kind_name[] = {"?", "net", "block"};
	int rc = 0;

	vm->ndev = m->note_type ? m->count : 0;
	for (unsigned i = 0; i < vm->ndev; i++) {
		vm->dev[i].kind = m->entries[i].kind;
		memcpy(vm->dev[i].name, m->entries[i].name, HZ_DEVICE_NAME_MAX);
		vm->dev[i].fd = -1;
		vm->dev[i].pcap_fd = -1;
	}
	for (unsigned b = 0; b < nbinds; b++) {
		const struct binding *bd = &binds[b];
		for (unsigned o = 0; o < b; o++) {
			if (binds[o].what == bd->what &&
			    strcmp(binds[o].name, bd->name) == 0) {
				hz_tender_log("%s %s: bound twice",
					      bind_opt[bd->what], bd->name);
				rc = -1;
			}
		}
		enum hz_device_kind kind = bd->what == BIND_BLOCK
					       ? HZ_DEVICE_KIND_BLOCK
					       : HZ_DEVICE_KIND_NET;
		int idx = m->note_type ? hz_manifest_find(m, kind, bd->name)
				       : -HZ_ENOENT;
		if (idx < 0) {
			hz_tender_log("%s %s: the image declares no %s device "
				      "named '%s'",
				      bind_opt[bd->what], bd->name,
				      kind_name[kind], bd->name);
			rc = -1;
			continue;
		}
		struct hz_device *d = &vm->dev[idx];
		if (bd->what == BIND_PCAP) {
			d->pcap_path = bd->value;
			continue;
		}
		d->bound = true;
		if (bd->what == BIND_BLOCK)
			d->path = bd->value;
		else if (parse_net(&d->net, bd->name, bd->value) < 0)
			rc = -1;
	}
	for (unsigned i = 0; i < vm->ndev; i++) {
		if (vm->dev[i].pcap_path && !vm->dev[i].bound) {
			hz_tender_log("--pcap %s: the device is not bound",
				      vm->dev[i].name);
			rc = -1;
		}
		if (!vm->dev[i].bound &&
		    !(m->entries[i].flags & HZ_DEVICE_OPTIONAL)) {
			hz_tender_log(
			    "%s device '%s' of the image is not "
			    "bound (use --%s %s=...)",
			    kind_name[vm->dev[i].kind], vm->dev[i].name,
			    kind_name[vm->dev[i].kind], vm->dev[i].name);
			rc = -1;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	static struct hz_vm vm;
	struct binding binds[BIND_MAX];
	unsigned nbinds = 0;
	unsigned long mem_mib = MEM_DEFAULT_MIB;
	int i;

	vm.t_start_ns = hz_tender_now();
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--trace") == 0) {
			vm.trace = true;
			continue;
		}
		if (strcmp(a, "--no-host-entropy") == 0) {
			vm.no_host_entropy = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage(NULL);
		if (i + 1 >= argc) {
			hz_tender_log("%s needs a value", a);
			usage(NULL);
		}
		const char *v = argv[++i];
		if (strcmp(a, "--mem") == 0) {
			char *end;
			errno = 0;
			mem_mib = strtoul(v, &end, 10);
			if (errno || *end || mem_mib < 4 ||
			    mem_mib > (HZ_KVM_MEM_MAX >> 20))
				usage("--mem: expected MiB between 4 and "
				      "3072");
			continue;
		}
		int what = -1;
		for (int k = 0; k < 3; k++)
			if (strcmp(a, bind_opt[k]) == 0)
				what = k;
		if (what < 0) {
			char msg[96];
			snprintf(msg, sizeof(msg), "unknown option %.40s", a);
			usage(msg);
		}
		if (nbinds == BIND_MAX)
			usage("too many device options");
		binds[nbinds].what = what;
		parse_binding(&binds[nbinds++], a, v);
	}
	if (i >= argc)
		usage("no image given");

	/* Round to 2 MiB pages; 4 GiB keeps addresses within 32 bits. */
	vm.mem_size = ((uint64_t)mem_mib << 20);
	vm.mem_size = (vm.mem_size + (2u << 20) - 1) & ~((2ull << 20) - 1);
	if (vm.mem_size > HZ_KVM_MEM_MAX)
		vm.mem_size = HZ_KVM_MEM_MAX;

	if (hz_image_open(&vm.image, argv[i], vm.mem_size) < 0)
		return HZ_KVM_EXIT_USAGE;
	if (bind_devices(&vm, binds, nbinds) < 0)
		return HZ_KVM_EXIT_USAGE;
	if (hz_devices_open(&vm) < 0)
		return HZ_KVM_EXIT_USAGE;
	if (hz_vm_setup(&vm, argc - i, argv + i) < 0)
		return HZ_KVM_EXIT_USAGE;
	if (hz_sandbox_enter(&vm) < 0)
		return HZ_KVM_EXIT_USAGE;
	return hz_vm_run(&vm);
}
