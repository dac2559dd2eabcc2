/*
 * libFuzzer harness: haze-kvm's ELF loader (tender/elf.c), which checks a
 * guest image as hostile input. Each input is an image file, put in a
 * memfd; the loader checks it against 32 MiB of guest memory, loads it if
 * it passed, and looks up symbols in it as a fault report would, whether
 * it passed or not. Every refusal prints a line on stderr: run libFuzzer
 * with -close_fd_mask=2 to keep them out of its output.
 */
#include <elf.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tender/tender.h"

#define MEM_SIZE (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Looks up the symbol of @addr, as a fault report does. */
static void lookup(const struct hz_image *img, uint64_t addr)
{
	char name[64];
	uint64_t off;

	if (hz_image_symbol(img, addr, name, sizeof(name), &off) &&
	    (off > addr || memchr(name, '\0', sizeof(name)) == NULL))
		__builtin_trap(); /* an offset past the address, or no NUL */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	struct hz_image img;

	if (!mem) {
		mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (mem == MAP_FAILED)
			__builtin_trap();
	}
	int fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		__builtin_trap();
	if (hz_image_check(&img, fd, "fuzz", MEM_SIZE) == 0) {
		if (img.end >= MEM_SIZE || img.nsegs == 0)
			__builtin_trap(); /* checked, yet no room for a heap */
		if (hz_image_load(&img, mem) < 0)
			__builtin_trap(); /* checked, yet cannot be loaded */
		lookup(&img, img.entry);
	}
	/* Symbols are read from any image a fault report is made for. */
	img.fd = fd;
	img.file_size = size;
	lookup(&img, HZ_KVM_IMAGE_BASE);
	if (size >= sizeof(Elf64_Ehdr))
		lookup(&img, ((const Elf64_Ehdr *)(const void *)data)->e_entry);
	close(fd);
	return 0;
}
