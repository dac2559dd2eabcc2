/*
 * The ELF loader of haze-kvm. The image is hostile input: every offset,
 * size and address it contains is checked with overflow-safe arithmetic
 * before use, segments must fit the image area, not overlap (at page
 * granularity, since permissions are per page), and never be both
 * writable and executable. The device manifest and the ABI version come
 * from ELF notes; symbols are read from .symtab only when a fault report
 * needs them, with pread on the still-open image (no allocation).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tender.h"

#define PAGE 4096u
#define PHDRS_MAX 64

/* Reads exactly @len bytes at @off; false on short read or error. */
static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* Whether [off, off + len) lies within a file of @size bytes. */
static bool in_file(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int refuse(const char *path, const char *why)
{
	hz_tender_log("%s: refused: %s", path, why);
	return -1;
}

/*
 * Parses the notes of one PT_NOTE segment, @size bytes read whole into
 * @buf, for Haze's manifest, ABI and trap notes.
 */
static int parse_notes(struct hz_image *img, const char *path,
		       const uint8_t *buf, uint64_t size)
{
	uint64_t pos = 0;

	while (size - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, buf + pos, sizeof(nh));
		uint64_t name_pad = ((uint64_t)nh.n_namesz + 3) & ~3ull;
		uint64_t desc_pad = ((uint64_t)nh.n_descsz + 3) & ~3ull;
		uint64_t body = sizeof(nh) + name_pad;
		if (name_pad > size || desc_pad > size ||
		    body + desc_pad > size - pos)
			return refuse(path, "note runs past its segment");
		const uint8_t *desc = buf + pos + body;
		bool haze = nh.n_namesz == sizeof(HZ_NOTE_OWNER) &&
			    memcmp(buf + pos + sizeof(nh), HZ_NOTE_OWNER,
				   sizeof(HZ_NOTE_OWNER)) == 0;
		if (haze && nh.n_type == HZ_NOTE_MANIFEST) {
			if (nh.n_descsz != HZ_MANIFEST_DESC_SIZE)
				return refuse(path, "manifest note has the "
						    "wrong size");
			if (img->manifest.note_type)
				return refuse(path, "two manifest notes");
			memcpy(&img->manifest.version, desc,
			       HZ_MANIFEST_DESC_SIZE);
			img->manifest.note_namesz = nh.n_namesz;
			img->manifest.note_descsz = nh.n_descsz;
			img->manifest.note_type = HZ_NOTE_MANIFEST;
			memcpy(img->manifest.note_name, HZ_NOTE_OWNER,
			       sizeof(HZ_NOTE_OWNER));
		} else if (haze && nh.n_type == HZ_KVM_NOTE_ABI) {
			if (nh.n_descsz != sizeof(uint32_t))
				return refuse(path, "ABI note has the wrong "
						    "size");
			memcpy(&img->abi_version, desc, sizeof(uint32_t));
			img->has_abi_note = true;
		} else if (haze && nh.n_type == HZ_KVM_NOTE_TRAPS) {
			if (nh.n_descsz != sizeof(img->traps))
				return refuse(path, "trap note has the wrong "
						    "size");
			memcpy(&img->traps, desc, sizeof(img->traps));
			img->has_traps = true;
		}
		pos += body + desc_pad;
	}
	return 0;
}

/*
 * Reads the PT_NOTE segment [off, off + size) in one go and parses it.
 * *budget is what the image's notes may still take: notes are small,
 * and a hostile image must not make the tender read or scan more than
 * HZ_TENDER_NOTES_MAX bytes of them before boot, however many PT_NOTE
 * headers it has.
 */
static int read_notes(struct hz_image *img, const char *path, uint64_t off,
		      uint64_t size, uint64_t *budget)
{
	static uint8_t buf[HZ_TENDER_NOTES_MAX];

	if (size > *budget) {
		hz_tender_log("%s: refused: notes larger than %u bytes in all",
			      path, HZ_TENDER_NOTES_MAX);
		return -1;
	}
	*budget -= size;
	if (!read_at(img->fd, buf, size, off))
		return refuse(path, "cannot read note");
	return parse_notes(img, path, buf, size);
}

/* Checks one PT_LOAD header and records it. */
static int add_segment(struct hz_image *img, const char *path,
		       const Elf64_Phdr *ph, uint64_t mem_size)
{
	uint64_t limit = mem_size < HZ_KVM_SMALL_PAGE_LIMIT
			     ? mem_size
			     : HZ_KVM_SMALL_PAGE_LIMIT;

	if (img->nsegs == HZ_TENDER_SEGMENTS_MAX)
		return refuse(path, "too many loadable segments");
	if (ph->p_filesz > ph->p_memsz)
		return refuse(path, "segment file size exceeds memory size");
	if (ph->p_memsz == 0)
		return 0;
	if (ph->p_memsz > HZ_TENDER_IMAGE_MAX)
		return refuse(path, "segment larger than the image area");
	if (!in_file(ph->p_offset, ph->p_filesz, img->file_size))
		return refuse(path, "segment data beyond the end of the file");
	if (ph->p_vaddr < HZ_KVM_IMAGE_BASE)
		return refuse(path, "segment below the image base (1 MiB)");
	if (ph->p_vaddr > limit || ph->p_memsz > limit - ph->p_vaddr)
		return refuse(path, "segment ends beyond the image area "
				    "(16 MiB or guest memory) or wraps around");
	if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
		return refuse(path, "segment both writable and executable "
				    "(W^X)");
	if (ph->p_vaddr % PAGE != ph->p_offset % PAGE)
		return refuse(path, "segment address and offset disagree "
				    "modulo the page size");
	/* Pages hold one permission: no two segments may share a page. */
	uint64_t lo = ph->p_vaddr & ~(uint64_t)(PAGE - 1);
	uint64_t hi =
	    (ph->p_vaddr + ph->p_memsz + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hz_segment *s = &img->segs[i];
		uint64_t slo = s->vaddr & ~(uint64_t)(PAGE - 1);
		uint64_t shi =
		    (s->vaddr + s->memsz + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		if (lo < shi && slo < hi)
			return refuse(path, "segments overlap");
	}
	img->segs[img->nsegs++] = (struct hz_segment){
	    .vaddr = ph->p_vaddr,
	    .memsz = ph->p_memsz,
	    .offset = ph->p_offset,
	    .filesz = ph->p_filesz,
	    .flags = ph->p_flags,
	};
	if (hi > img->end)
		img->end = hi;
	return 0;
}

/* Whether [addr, addr + len) lies in one segment with flags @flags. */
static bool in_segment(const struct hz_image *img, uint64_t addr, uint64_t len,
		       uint32_t flags)
{
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hz_segment *s = &img->segs[i];
		if ((s->flags & flags) == flags && addr >= s->vaddr &&
		    addr - s->vaddr <= s->memsz &&
		    len <= s->memsz - (addr - s->vaddr))
			return true;
	}
	return false;
}

int hz_image_open(struct hz_image *img, const char *path, uint64_t mem_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hz_tender_log("%s: %s", path, strerror(errno));
		return -1;
	}
	return hz_image_check(img, fd, path, mem_size);
}

int hz_image_check(struct hz_image *img, int fd, const char *path,
		   uint64_t mem_size)
{
	Elf64_Ehdr eh;
	struct stat st;

	memset(img, 0, sizeof(*img));
	img->fd = fd;
	if (fstat(img->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return refuse(path, "not a regular file");
	img->file_size = (uint64_t)st.st_size;
	if (img->file_size < sizeof(eh) ||
	    !read_at(img->fd, &eh, sizeof(eh), 0))
		return refuse(path, "truncated ELF header");
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return refuse(path, "not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_machine != EM_X86_64)
		return refuse(path, "not a little-endian x86_64 ELF64 file");
	if (eh.e_type != ET_EXEC)
		return refuse(path, "not a static executable (ET_EXEC)");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
		return refuse(path, "bad program header table size");
	if (eh.e_phnum > PHDRS_MAX)
		return refuse(path, "more than 64 program headers");
	if (!in_file(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr),
		     img->file_size))
		return refuse(path, "program headers beyond the end of the "
				    "file");

	Elf64_Phdr ph[PHDRS_MAX];
	uint64_t notes_budget = HZ_TENDER_NOTES_MAX;
	if (!read_at(img->fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff))
		return refuse(path, "cannot read program headers");
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		switch (ph[i].p_type) {
		case PT_LOAD:
			if (add_segment(img, path, &ph[i], mem_size) < 0)
				return -1;
			break;
		case PT_NOTE:
			if (!in_file(ph[i].p_offset, ph[i].p_filesz,
				     img->file_size))
				return refuse(path, "note beyond the end of "
						    "the file");
			if (read_notes(img, path, ph[i].p_offset,
				       ph[i].p_filesz, &notes_budget) < 0)
				return -1;
			break;
		case PT_INTERP:
		case PT_DYNAMIC:
		case PT_TLS:
			return refuse(path, "dynamic or TLS image; Haze "
					    "images are static");
		default:
			break;
		}
	}
	if (img->nsegs == 0)
		return refuse(path, "no loadable segment");

	bool entry_ok = false;
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hz_segment *s = &img->segs[i];
		if ((s->flags & PF_X) && eh.e_entry >= s->vaddr &&
		    eh.e_entry - s->vaddr < s->memsz)
			entry_ok = true;
	}
	if (!entry_ok)
		return refuse(path, "entry point outside executable segments");
	img->entry = eh.e_entry;
	if (img->end >= mem_size)
		return refuse(path, "image does not leave room for a heap");

	if (!img->has_abi_note)
		return refuse(path, "no Haze kvm ABI note: not a haze-kvm "
				    "image");
	if (img->abi_version != HZ_KVM_ABI_VERSION) {
		hz_tender_log("%s: refused: built for kvm ABI %u, this "
			      "haze-kvm speaks %u",
			      path, img->abi_version, HZ_KVM_ABI_VERSION);
		return -1;
	}
	if (!img->has_traps)
		return refuse(path, "no trap note: exception entries unknown");
	for (unsigned v = 0; v < HZ_KVM_VECTORS; v++)
		if (!in_segment(img, img->traps.entry[v], 1, PF_X))
			return refuse(path, "exception entry outside "
					    "executable segments");
	if (img->traps.stack_top % 16 ||
	    !in_segment(img, img->traps.stack_top - 256, 256, PF_W))
		return refuse(path, "trap stack outside writable segments");
	if (img->manifest.note_type) {
		const char *why = "?";
		if (hz_manifest_validate(&img->manifest, &why) < 0) {
			hz_tender_log("%s: refused: bad manifest: %s", path,
				      why);
			return -1;
		}
	}
	return 0;
}

int hz_image_load(const struct hz_image *img, uint8_t *mem)
{
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hz_segment *s = &img->segs[i];
		/* Checked by add_segment: within guest memory and the file. */
		if (s->filesz &&
		    !read_at(img->fd, mem + s->vaddr, s->filesz, s->offset)) {
			hz_tender_log("cannot read image segment %u", i);
			return -1;
		}
	}
	return 0;
}

/*
 * Symbols for a fault report, read on demand from the still-open image
 * (the sandbox allows pread on it) into static buffers: nothing is
 * allocated under seccomp, and however the image is made, a lookup costs
 * a handful of reads: the section headers in one, the symbol table in
 * one (up to HZ_TENDER_SYMTAB_MAX bytes; a larger one is not used), the
 * name in one.
 */
static Elf64_Shdr shdrs[HZ_TENDER_SECTIONS_MAX];
static Elf64_Sym syms[HZ_TENDER_SYMTAB_MAX / sizeof(Elf64_Sym)];

/* Index of the first section header of @type among @n; -1 if none. */
static int find_section(unsigned n, uint32_t type)
{
	for (unsigned i = 0; i < n; i++)
		if (shdrs[i].sh_type == type)
			return (int)i;
	return -1;
}

bool hz_image_symbol(const struct hz_image *img, uint64_t addr, char *name,
		     size_t name_size, uint64_t *offset)
{
	Elf64_Ehdr eh;
	uint64_t best_value = 0, best_name = 0;
	bool found = false;

	if (name_size == 0 || !read_at(img->fd, &eh, sizeof(eh), 0) ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 ||
	    eh.e_shnum > HZ_TENDER_SECTIONS_MAX ||
	    !in_file(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr),
		     img->file_size) ||
	    !read_at(img->fd, shdrs, eh.e_shnum * sizeof(Elf64_Shdr),
		     eh.e_shoff))
		return false;
	int st = find_section(eh.e_shnum, SHT_SYMTAB);
	if (st < 0 || shdrs[st].sh_link >= eh.e_shnum)
		return false;
	const Elf64_Shdr *symtab = &shdrs[st];
	const Elf64_Shdr *strtab = &shdrs[symtab->sh_link];
	if (symtab->sh_size > sizeof(syms) ||
	    !in_file(symtab->sh_offset, symtab->sh_size, img->file_size) ||
	    !in_file(strtab->sh_offset, strtab->sh_size, img->file_size))
		return false;
	uint64_t nsyms = symtab->sh_size / sizeof(Elf64_Sym);
	if (!read_at(img->fd, syms, nsyms * sizeof(Elf64_Sym),
		     symtab->sh_offset))
		return false;
	for (uint64_t j = 0; j < nsyms; j++) {
		const Elf64_Sym *s = &syms[j];
		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_value > addr)
			continue;
		if (s->st_size && addr - s->st_value >= s->st_size)
			continue;
		if (found && s->st_value < best_value)
			continue;
		best_value = s->st_value;
		best_name = s->st_name;
		found = true;
	}
	if (!found || best_name >= strtab->sh_size)
		return false;
	uint64_t avail = strtab->sh_size - best_name;
	size_t len = name_size - 1 < avail ? name_size - 1 : (size_t)avail;
	if (!read_at(img->fd, name, len, strtab->sh_offset + best_name))
		return false;
	name[len] = '\0';
	*offset = addr - best_value;
	return true;
}
