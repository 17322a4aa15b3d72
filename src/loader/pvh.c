/* PVH loader: an x86 ELF (32- or 64-bit, little-endian) whose Xen note
 * XEN_ELFNOTE_PHYS32_ENTRY gives a 32-bit protected-mode entry point, started
 * with EBX pointing at an hvm_start_info. */
#include "loader/loader.h"

#include <elf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "loader/load_common.h"
#include "loader/start_info.h"
#include "util/log.h"
#include "util/util.h"

/* The start-info page: everything hvm_start_info points to lives in it. */
struct start_info_page {
	struct hvm_start_info info;
	struct hvm_modlist_entry initramfs;
	struct hvm_memmap_table_entry memmap[E820_MAX];
};
_Static_assert(sizeof(struct start_info_page) <= 4096, "start info fits its page");
_Static_assert(X86_PVH_START_INFO + 4096 <= X86_ZERO_PAGE, "start info page is free");

/* Program and section headers of either ELF class, widened. */
struct segment {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz, align;
};

struct elf_file {
	const char *path;
	const uint8_t *data;
	size_t len;
	bool is64;
	uint64_t phoff, shoff;
	unsigned phnum, shnum, phentsize, shentsize;
};

static bool in_file(const struct elf_file *f, uint64_t off, uint64_t size)
{
	return off <= f->len && size <= f->len - off;
}

static int parse_elf_header(struct elf_file *f)
{
	const uint8_t *d = f->data;

	if (f->len < EI_NIDENT || memcmp(d, ELFMAG, SELFMAG) != 0 ||
	    (d[EI_CLASS] != ELFCLASS32 && d[EI_CLASS] != ELFCLASS64)) {
		log_error("kernel %s: not an ELF file", f->path);
		return -1;
	}
	f->is64 = d[EI_CLASS] == ELFCLASS64;
	if (!in_file(f, 0, f->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr))) {
		log_error("kernel %s: not an ELF file (truncated header)", f->path);
		return -1;
	}
	uint16_t machine;
	if (f->is64) {
		Elf64_Ehdr h;
		memcpy(&h, d, sizeof(h));
		machine = h.e_machine;
		f->phoff = h.e_phoff, f->phnum = h.e_phnum, f->phentsize = h.e_phentsize;
		f->shoff = h.e_shoff, f->shnum = h.e_shnum, f->shentsize = h.e_shentsize;
	} else {
		Elf32_Ehdr h;
		memcpy(&h, d, sizeof(h));
		machine = h.e_machine;
		f->phoff = h.e_phoff, f->phnum = h.e_phnum, f->phentsize = h.e_phentsize;
		f->shoff = h.e_shoff, f->shnum = h.e_shnum, f->shentsize = h.e_shentsize;
	}
	if (d[EI_DATA] != ELFDATA2LSB || (machine != EM_X86_64 && machine != EM_386)) {
		log_error("kernel %s: not a little-endian x86 ELF (machine %u)", f->path, machine);
		return -1;
	}
	size_t ph_min = f->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (f->phnum && (f->phentsize < ph_min ||
			 !in_file(f, f->phoff, (uint64_t)f->phnum * f->phentsize))) {
		log_error("kernel %s: program headers outside the file", f->path);
		return -1;
	}
	size_t sh_min = f->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (f->shnum && (f->shentsize < sh_min ||
			 !in_file(f, f->shoff, (uint64_t)f->shnum * f->shentsize)))
		f->shnum = 0; /* sections are only a fallback for the note: ignore them */
	return 0;
}

static struct segment program_header(const struct elf_file *f, unsigned i)
{
	const uint8_t *p = f->data + f->phoff + (uint64_t)i * f->phentsize;

	if (f->is64) {
		Elf64_Phdr h;
		memcpy(&h, p, sizeof(h));
		return (struct segment){ h.p_type, h.p_offset, h.p_paddr, h.p_filesz,
					 h.p_memsz, h.p_align };
	}
	Elf32_Phdr h;
	memcpy(&h, p, sizeof(h));
	return (struct segment){ h.p_type, h.p_offset, h.p_paddr, h.p_filesz, h.p_memsz,
				 h.p_align };
}

/* Only the fields the note search needs: type, offset, filesz, align. */
static struct segment section_header(const struct elf_file *f, unsigned i)
{
	const uint8_t *p = f->data + f->shoff + (uint64_t)i * f->shentsize;

	if (f->is64) {
		Elf64_Shdr h;
		memcpy(&h, p, sizeof(h));
		return (struct segment){ .type = h.sh_type, .offset = h.sh_offset,
					 .filesz = h.sh_size, .align = h.sh_addralign };
	}
	Elf32_Shdr h;
	memcpy(&h, p, sizeof(h));
	return (struct segment){ .type = h.sh_type, .offset = h.sh_offset,
				 .filesz = h.sh_size, .align = h.sh_addralign };
}

/* Walks the notes in one PT_NOTE/SHT_NOTE area looking for Xen's
 * PHYS32_ENTRY. Linux pads notes to 4 bytes even in ELF64; honour 8 only
 * when the area says so. */
static bool find_entry_note(const struct elf_file *f, const struct segment *s,
			    uint64_t *entry)
{
	uint64_t pad = s->align == 8 ? 8 : 4;
	uint64_t pos = 0;

	if (!in_file(f, s->offset, s->filesz))
		return false;
	const uint8_t *area = f->data + s->offset;
	while (s->filesz - pos >= sizeof(Elf32_Nhdr)) {
		Elf32_Nhdr n;
		memcpy(&n, area + pos, sizeof(n));
		pos += sizeof(n);
		uint64_t name_at = pos;
		uint64_t name_len = ALIGN_UP((uint64_t)n.n_namesz, pad);
		if (name_len > s->filesz - pos)
			return false;
		pos += name_len;
		uint64_t desc_at = pos;
		uint64_t desc_len = ALIGN_UP((uint64_t)n.n_descsz, pad);
		if (n.n_descsz > s->filesz - pos)
			return false;
		pos += MIN(desc_len, s->filesz - pos);
		if (n.n_type != XEN_ELFNOTE_PHYS32_ENTRY || n.n_namesz != 4 ||
		    memcmp(area + name_at, "Xen", 4) != 0)
			continue;
		if (n.n_descsz == 4) {
			uint32_t v;
			memcpy(&v, area + desc_at, 4);
			*entry = v;
			return true;
		}
		if (n.n_descsz == 8) {
			memcpy(entry, area + desc_at, 8);
			return true;
		}
	}
	return false;
}

static int find_pvh_entry(const struct elf_file *f, uint64_t *entry)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct segment s = program_header(f, i);
		if (s.type == PT_NOTE && find_entry_note(f, &s, entry))
			goto found;
	}
	for (unsigned i = 0; i < f->shnum; i++) {
		struct segment s = section_header(f, i);
		if (s.type == SHT_NOTE && find_entry_note(f, &s, entry))
			goto found;
	}
	log_error("kernel %s: no PVH entry point (Xen ELF note PHYS32_ENTRY)", f->path);
	return -1;
found:
	if (*entry >= X86_IDENTITY_MAP_END) {
		log_error("kernel %s: PVH entry point %#llx is not a 32-bit address", f->path,
			  (unsigned long long)*entry);
		return -1;
	}
	return 0;
}

/* Checks every PT_LOAD against the file and guest RAM before anything is
 * written; the area below 1 MiB holds our boot structures. Returns the end
 * of the highest segment in *end. */
static int check_segments(const struct guest_mem *gm, const struct elf_file *f,
			  uint64_t *end)
{
	unsigned loads = 0;

	*end = 0;
	for (unsigned i = 0; i < f->phnum; i++) {
		struct segment s = program_header(f, i);
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		if (s.filesz > s.memsz) {
			log_error("kernel %s: segment %u has more file bytes than memory bytes",
				  f->path, i);
			return -1;
		}
		if (!in_file(f, s.offset, s.filesz)) {
			log_error("kernel %s: segment %u lies outside the file", f->path, i);
			return -1;
		}
		if (s.paddr < X86_HIGHMEM_START || !gm_ptr(gm, s.paddr, s.memsz)) {
			log_error("kernel %s: segment %u at %#llx (%llu bytes) is outside guest RAM "
				  "above 1 MiB", f->path, i, (unsigned long long)s.paddr,
				  (unsigned long long)s.memsz);
			return -1;
		}
		*end = MAX(*end, s.paddr + s.memsz);
		loads++;
	}
	if (!loads) {
		log_error("kernel %s: no loadable segment", f->path);
		return -1;
	}
	return 0;
}

static void load_segments(const struct guest_mem *gm, const struct elf_file *f)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct segment s = program_header(f, i);
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		uint8_t *dst = gm_ptr(gm, s.paddr, s.memsz); /* checked above */
		memcpy(dst, f->data + s.offset, s.filesz);
		memset(dst + s.filesz, 0, s.memsz - s.filesz);
		log_info("kernel %s: segment at %#llx, %llu bytes", f->path,
			 (unsigned long long)s.paddr, (unsigned long long)s.memsz);
	}
}

static void fill_memmap(struct start_info_page *page, const struct guest_mem *gm,
			const struct e820_map *given)
{
	struct e820_map map;

	loader_memory_map(gm, given, &map);
	for (unsigned i = 0; i < map.nr; i++)
		page->memmap[i] = (struct hvm_memmap_table_entry){
			.addr = map.entry[i].addr,
			.size = map.entry[i].size,
			.type = map.entry[i].type,
		};
	page->info.memmap_entries = map.nr;
	page->info.memmap_paddr = X86_PVH_START_INFO + offsetof(struct start_info_page, memmap);
}

static int place_pvh(struct guest_mem *gm, const struct boot_input *in,
		     const struct elf_file *f, struct boot_entry *out)
{
	struct start_info_page page = { 0 };
	uint64_t entry, kernel_end;

	if (find_pvh_entry(f, &entry) < 0 || check_segments(gm, f, &kernel_end) < 0)
		return -1;
	if (loader_put_cmdline(gm, f->path, in->cmdline, X86_CMDLINE_MAX - 1) < 0)
		return -1;
	load_segments(gm, f);

	page.info = (struct hvm_start_info){
		.magic = XEN_HVM_START_MAGIC,
		.version = XEN_HVM_START_VERSION,
		.cmdline_paddr = X86_CMDLINE,
		.rsdp_paddr = in->rsdp_addr,
	};
	if (in->initramfs_path) {
		if (loader_put_initramfs(gm, in->initramfs_path, kernel_end, X86_RAM32_END,
					 &page.initramfs.paddr, &page.initramfs.size) < 0)
			return -1;
		page.info.nr_modules = 1;
		page.info.modlist_paddr =
			X86_PVH_START_INFO + offsetof(struct start_info_page, initramfs);
	}
	fill_memmap(&page, gm, in->e820);
	if (!gm_write(gm, X86_PVH_START_INFO, &page, sizeof(page))) {
		log_error("kernel %s: no guest RAM for the PVH start info", f->path);
		return -1;
	}
	*out = (struct boot_entry){ .mode = BOOT_PVH32, .rip = entry, .rbx = X86_PVH_START_INFO };
	return 0;
}

int load_pvh(struct guest_mem *gm, const struct boot_input *in, struct boot_entry *out)
{
	struct elf_file f = { .path = in->kernel_path };
	uint8_t *data;
	int ret = -1;

	if (loader_read(in->kernel_path, "kernel", &data, &f.len) < 0)
		return -1;
	f.data = data;
	if (parse_elf_header(&f) == 0)
		ret = place_pvh(gm, in, &f, out);
	free(data);
	return ret;
}
