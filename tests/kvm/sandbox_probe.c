/*
 * sandbox-probe: enters haze-kvm's real seccomp filter (tender/sandbox.c,
 * linked in) for a made-up VM, then makes one system call and reports
 * whether it came back. A refused call ends the process the way it ends
 * the tender: "blocked system call N" and status 253.
 *
 *   sandbox-probe [--user-net] CALL
 *
 * --user-net gives the made-up VM a user-networking NIC, which widens
 * the filter for libslirp. The filter's decisions depend only on the
 * system call and its arguments, not on what the file descriptors are,
 * so /dev/null stands in for the vCPU and the image. The probe is built
 * for tests/kvm/run.py; the tender itself has no test hook.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tender/tender.h"

/* Makes the system call named @call; its result, or -2 if unknown. */
static long attempt(const char *call)
{
	if (strcmp(call, "write-stderr") == 0)
		return write(2, "", 0);
	if (strcmp(call, "mmap-rw") == 0)
		return mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED;
	if (strcmp(call, "mmap-exec") == 0)
		return mmap(NULL, 4096, PROT_READ | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED;
	if (strcmp(call, "mprotect") == 0) {
		static char page[4096] __attribute__((aligned(4096)));
		return mprotect(page, sizeof(page), PROT_READ);
	}
	if (strcmp(call, "socket-inet") == 0)
		return socket(AF_INET, SOCK_STREAM, 0);
	if (strcmp(call, "socket-inet6") == 0)
		return socket(AF_INET6, SOCK_DGRAM, 0);
	if (strcmp(call, "socket-unix") == 0)
		return socket(AF_UNIX, SOCK_STREAM, 0);
	if (strcmp(call, "socket-netlink") == 0)
		return socket(AF_NETLINK, SOCK_RAW, 0);
	if (strcmp(call, "fcntl-setfl") == 0) /* on a socket of slirp's */
		return fcntl(socket(AF_INET, SOCK_DGRAM, 0), F_SETFL,
			     O_NONBLOCK);
	if (strcmp(call, "fcntl-setfl-fd0") == 0) /* the tender's own */
		return fcntl(0, F_SETFL, O_NONBLOCK);
	if (strcmp(call, "close-fd0") == 0)
		return close(0);
	if (strcmp(call, "socket-raw") == 0) /* fails: EPERM */
		return socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (strcmp(call, "mmap-shared") == 0)
		return mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0) != MAP_FAILED;
	if (strcmp(call, "fcntl-dupfd") == 0)
		return fcntl(0, F_DUPFD, 0);
	if (strcmp(call, "open") == 0)
		return open("/etc/hostname", O_RDONLY);
	if (strcmp(call, "execve") == 0) {
		char *argv[] = {(char *)"true", NULL};
		return execve("/bin/true", argv, NULL);
	}
	return -2;
}

int main(int argc, char **argv)
{
	static struct hz_vm vm;
	int a = 1;

	vm.notify_fd = -1; /* no --notify: fd 0 must stay unwritable */
	if (a < argc && strcmp(argv[a], "--user-net") == 0) {
		vm.ndev = 1;
		vm.dev[0] = (struct hz_device){
		    .kind = HZ_DEVICE_KIND_NET,
		    .bound = true,
		    .fd = -1,
		    .pcap_fd = -1,
		    /* Only tested for NULL by the sandbox. */
		    .slirp = (struct hz_slirp *)&vm,
		};
		a++;
	}
	if (a + 1 != argc) {
		hz_tender_log("usage: sandbox-probe [--user-net] CALL");
		return 2;
	}
	vm.vcpu_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	vm.image.fd = vm.vcpu_fd;
	if (vm.vcpu_fd < 0 || hz_sandbox_enter(&vm) < 0)
		return 2;
	long rc = attempt(argv[a]);
	if (rc == -2) {
		hz_tender_log("unknown call %s", argv[a]);
		return 2;
	}
	hz_tender_log("%s: allowed (returned %ld)", argv[a], rc);
	return 0;
}
