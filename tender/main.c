/*
 * haze-kvm: runs a Haze unikernel image in a one-vCPU KVM VM.
 *
 *   haze-kvm [--mem MIB] [--net NAME=tap:IFACE] [--net NAME=tapfd:FD]
 *            [--net NAME=user[,host-loopback][,hostfwd=tcp:H-:G...]]
 *            [--block NAME=PATH] [--pcap NAME=FILE] [--trace]
 *            [--notify FD] [--no-host-entropy] [--no-net-rings]
 *            [--gdb PORT] [--kvm-fd FD] IMAGE [ARGS...]
 *
 * This file parses the command line, binds host resources to the devices
 * of the image's manifest (refusing a missing, unknown or duplicate
 * binding before boot), then sets up the VM, sandboxes the process and
 * runs the guest. With --gdb it first waits for gdb on 127.0.0.1:PORT
 * (tender/gdb_kvm.c). --kvm-fd uses an open /dev/kvm passed down by a
 * privileged parent (haze-jitsu) instead of opening it, so the tender
 * needs no access to the device node. Exit statuses are in
 * platform/kvm/abi.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "haze/net.h"
#include "platform/host/notify.h"
#include "platform/host/options.h"
#include "platform/host/tap.h"
#include "tender.h"

#define MEM_DEFAULT_MIB 32

static HZ_NORETURN void usage(const char *why)
{
	if (why)
		hz_tender_log("%s", why);
	fprintf(stderr,
		"usage: haze-kvm [--mem MIB] [--net NAME=tap:IFACE] "
		"[--net NAME=tapfd:FD]\n"
		"                [--net NAME=user[,host-loopback]"
		"[,hostfwd=tcp:HOSTPORT-:GUESTPORT...]]\n"
		"                [--block NAME=PATH] [--pcap NAME=FILE] "
		"[--trace]\n"
		"                [--notify FD] [--no-host-entropy] "
		"[--no-net-rings]\n"
		"                [--gdb PORT] [--kvm-fd FD] IMAGE [ARGS...]\n");
	exit(HZ_KVM_EXIT_USAGE);
}

/* Parses one port of a hostfwd; ends at @end. 0 if it is not a port. */
static uint16_t parse_port(const char *s, const char **end)
{
	uint16_t port;
	size_t len = strspn(s, "0123456789");

	*end = s + len;
	return hz_port_parse(s, len, &port) < 0 ? 0 : port;
}

/*
 * The descriptor of --net NAME=tapfd:FD's value @v, or -1 for another
 * backend or a bad number (parse_net refuses it).
 */
static int tapfd_of(const char *v)
{
	struct hz_errmsg err = {0};
	int fd;

	if (strncmp(v, "tapfd:", 6) != 0 ||
	    hz_host_parse_fd("--net", v + 6, &fd, &err) < 0)
		return -1;
	return fd;
}

/* Parses the value of --net NAME=VALUE into @nb; 0 or -1. */
static int parse_net(struct hz_net_binding *nb, const char *name, const char *v)
{
	if (strncmp(v, "tapfd:", 6) == 0) {
		struct hz_errmsg err = {0};
		nb->backend = HZ_NET_TAPFD;
		nb->tapfd = tapfd_of(v);
		if (nb->tapfd < 0) {
			hz_tender_log("--net %s=%s: expected tapfd:FD, a "
				      "descriptor number",
				      name, v);
			return -1;
		}
		/* Checked before any device is opened, as bindings are. */
		if (hz_tap_adopt(nb->tapfd, &err) < 0) {
			hz_tender_log("--net %s=%s: %s", name, v,
				      hz_errmsg_text(&err));
			return -1;
		}
		return 0;
	}
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
		hz_tender_log("--net %s: unknown backend '%s' (tap:IFACE, "
			      "tapfd:FD or user)",
			      name, v);
		return -1;
	}
	nb->backend = HZ_NET_USER;
	const char *p = v + 4;
	while (*p == ',') {
		p++;
		const char *end;
		if (strncmp(p, "host-loopback", 13) == 0 &&
		    (p[13] == '\0' || p[13] == ',')) {
			nb->host_loopback = true;
			p += 13;
			continue;
		}
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
		      "user[,host-loopback][,hostfwd=tcp:HOSTPORT-:"
		      "GUESTPORT...])",
		      name, v);
	return -1;
}

/*
 * Binds @binds (--net and --block) and @pcaps (--pcap) to the manifest's
 * devices into vm->dev, with the checks every target shares; 0 or -1
 * with a message.
 */
static int bind_devices(struct hz_vm *vm, const struct hz_host_binding *binds,
			unsigned nbinds, const struct hz_host_binding *pcaps,
			unsigned npcaps)
{
	const struct hz_manifest *m = &vm->image.manifest;
	static const struct hz_manifest none;
	struct hz_errmsg err = {0};

	if (!m->note_type)
		m = &none; /* an image without a manifest has no devices */
	if (hz_host_check_bindings(m, binds, nbinds, &err) < 0) {
		hz_tender_log("%s", hz_errmsg_text(&err));
		return -1;
	}
	vm->ndev = m->count;
	for (unsigned i = 0; i < vm->ndev; i++) {
		vm->dev[i].kind = m->entries[i].kind;
		memcpy(vm->dev[i].name, m->entries[i].name, HZ_DEVICE_NAME_MAX);
		vm->dev[i].fd = -1;
		vm->dev[i].pcap_fd = -1;
	}
	for (unsigned b = 0; b < nbinds; b++) {
		struct hz_device *d =
		    &vm->dev[hz_manifest_find(m, binds[b].kind, binds[b].name)];
		d->bound = true;
		if (binds[b].kind == HZ_DEVICE_KIND_BLOCK)
			d->path = binds[b].target;
		else if (parse_net(&d->net, d->name, binds[b].target) < 0)
			return -1;
	}
	for (unsigned p = 0; p < npcaps; p++) {
		int idx =
		    hz_manifest_find(m, HZ_DEVICE_KIND_NET, pcaps[p].name);
		if (idx < 0 || !vm->dev[idx].bound) {
			hz_tender_log("--pcap %s: no bound net device of that "
				      "name",
				      pcaps[p].name);
			return -1;
		}
		if (vm->dev[idx].pcap_path) {
			hz_tender_log("--pcap %s: bound twice", pcaps[p].name);
			return -1;
		}
		vm->dev[idx].pcap_path = pcaps[p].target;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct hz_vm vm;
	static struct hz_gdb_link gdb_link;
	int gdb_port = 0, gdb_fd = -1;
	struct hz_host_binding binds[HZ_MANIFEST_MAX], pcaps[HZ_MANIFEST_MAX];
	unsigned nbinds = 0, npcaps = 0;
	struct hz_errmsg err = {0};
	uint64_t mem = (uint64_t)MEM_DEFAULT_MIB << 20;
	int keep[HZ_MANIFEST_MAX + 2]; /* inherited descriptors kept */
	unsigned nkeep = 0;
	int i;

	hz_tender_signals();
	vm.t_start_ns = hz_tender_now();
	vm.notify_fd = -1;
	vm.kvm_fd = -1;
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
		if (strcmp(a, "--no-net-rings") == 0) {
			vm.no_rings = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage(NULL);
		if (strcmp(a, "--mem") != 0 && strcmp(a, "--net") != 0 &&
		    strcmp(a, "--block") != 0 && strcmp(a, "--pcap") != 0 &&
		    strcmp(a, "--notify") != 0 && strcmp(a, "--gdb") != 0 &&
		    strcmp(a, "--kvm-fd") != 0) {
			char msg[96];
			snprintf(msg, sizeof(msg), "unknown option %.40s", a);
			usage(msg);
		}
		if (i + 1 >= argc) {
			hz_tender_log("%s needs a value", a);
			usage(NULL);
		}
		const char *v = argv[++i];
		int rc;
		if (strcmp(a, "--gdb") == 0) {
			uint16_t port = 0;
			rc = hz_port_parse(v, strlen(v), &port) < 0 || !port
				 ? hz_errmsg_set(&err, -HZ_EINVAL,
						 "--gdb %.20s: expected a "
						 "TCP port, 1 to 65535",
						 v)
				 : 0;
			gdb_port = port;
		} else if (strcmp(a, "--kvm-fd") == 0) {
			rc = vm.kvm_fd >= 0
				 ? hz_errmsg_set(&err, -HZ_EINVAL,
						 "--kvm-fd given twice")
				 : hz_host_parse_fd(a, v, &vm.kvm_fd, &err);
			if (rc == 0)
				keep[nkeep++] = vm.kvm_fd;
		} else if (strcmp(a, "--mem") == 0) {
			rc = hz_host_parse_mem(v, 4, HZ_KVM_MEM_MAX >> 20, &mem,
					       &err);
		} else if (strcmp(a, "--notify") == 0) {
			rc = vm.notify_fd >= 0
				 ? hz_errmsg_set(&err, -HZ_EINVAL,
						 "--notify given twice")
				 : hz_notify_setup(v, &vm.notify_fd, &err);
			if (rc == 0)
				keep[nkeep++] = vm.notify_fd;
		} else if (strcmp(a, "--pcap") == 0) {
			rc = npcaps == HZ_MANIFEST_MAX
				 ? hz_errmsg_set(&err, -HZ_EINVAL,
						 "too many --pcap options")
				 : hz_host_parse_binding(
				       a, v, HZ_DEVICE_KIND_NET,
				       &pcaps[npcaps++], &err);
		} else {
			enum hz_device_kind kind = strcmp(a, "--net") == 0
						       ? HZ_DEVICE_KIND_NET
						       : HZ_DEVICE_KIND_BLOCK;
			rc = nbinds == HZ_MANIFEST_MAX
				 ? hz_errmsg_set(&err, -HZ_EINVAL,
						 "too many device options")
				 : hz_host_parse_binding(
				       a, v, kind, &binds[nbinds++], &err);
			if (rc == 0 && kind == HZ_DEVICE_KIND_NET &&
			    tapfd_of(binds[nbinds - 1].target) >= 0)
				keep[nkeep++] =
				    tapfd_of(binds[nbinds - 1].target);
		}
		if (rc < 0)
			usage(hz_errmsg_text(&err));
	}
	/*
	 * Nothing inherited beyond stdio, --notify's and --kvm-fd's
	 * descriptors and the taps of tapfd bindings reaches the guest's
	 * sandbox; those are checked before use (hz_notify_setup above,
	 * hz_vm_setup, hz_tap_adopt when bound).
	 */
	if (hz_sandbox_close_inherited(keep, nkeep) < 0) {
		hz_tender_log("cannot close inherited descriptors: %s",
			      strerror(errno));
		return HZ_KVM_EXIT_USAGE;
	}
	hz_notify(vm.notify_fd, "start", vm.t_start_ns);
	if (i >= argc)
		usage("no image given");
	/* A port in use is refused before anything else is done. */
	if (gdb_port && (gdb_fd = hz_gdb_listen((uint16_t)gdb_port)) < 0)
		return HZ_KVM_EXIT_USAGE;

	/* Guest memory comes in 2 MiB pages, below HZ_KVM_MEM_MAX. */
	vm.mem_size = (mem + (2u << 20) - 1) & ~((2ull << 20) - 1);
	if (vm.mem_size > HZ_KVM_MEM_MAX)
		vm.mem_size = HZ_KVM_MEM_MAX;

	if (hz_image_open(&vm.image, argv[i], vm.mem_size) < 0)
		return HZ_KVM_EXIT_USAGE;
	if (bind_devices(&vm, binds, nbinds, pcaps, npcaps) < 0)
		return HZ_KVM_EXIT_USAGE;
	if (hz_devices_open(&vm) < 0)
		return HZ_KVM_EXIT_USAGE;
	if (hz_vm_setup(&vm, argc - i, argv + i) < 0)
		return HZ_KVM_EXIT_USAGE;
	/* gdb is accepted outside the sandbox, then only read and written. */
	if (gdb_fd >= 0 && hz_gdb_attach(&vm, &gdb_link, gdb_fd) < 0)
		return HZ_KVM_EXIT_USAGE;
	/* The I/O thread starts before the sandbox, which covers it. */
	if (hz_rings_start(&vm) < 0)
		return HZ_KVM_EXIT_USAGE;
	if (hz_sandbox_enter(&vm) < 0)
		return HZ_KVM_EXIT_USAGE;
	return hz_vm_run(&vm);
}
