/* PVH loader: synthetic ELF32/ELF64 kernels with Xen notes in PT_NOTE or
 * SHT_NOTE, loaded into a malloc'd guest memory; segments, bss, the
 * hvm_start_info page, cmdline, initramfs placement and every refusal. A
 * real vmlinux (ELF64) is loaded too when ALIOTH_TEST_PVH names one. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "loader/loader.h"
#include "loader/start_info.h"
#include "util/log.h"
#include "util/util.h"

#define RAM_SIZE (64 * MiB)
#define NOTES_OFF 0x200
#define SEG0_OFF 0x1000
#define SEG1_OFF 0x3000
#define FILE_LEN 0x4000
#define SHDR_OFF 0x3800

struct fixture {
	char dir[64];
	char log_path[128];
	long log_off;
	uint8_t *ram;
	struct guest_mem gm;
	struct e820_map e820;
};

struct elf_spec {
	bool is64;
	uint16_t machine;
	uint8_t data;
	bool note_in_phdr;
	bool note_in_shdr;
	bool xen_note;
	uint32_t note_align;
	uint32_t entry_size;  /* 4 or 8 */
	uint64_t entry;
	uint64_t paddr[2];
	uint64_t offset[2];
	uint64_t filesz[2];
	uint64_t memsz[2];
	uint32_t load_type;   /* PT_LOAD, or something else to have no loadable segment */
	uint16_t phnum_extra; /* claims more program headers than written */
};

static struct elf_spec default_spec(bool is64)
{
	return (struct elf_spec){
		.is64 = is64, .machine = is64 ? EM_X86_64 : EM_386, .data = ELFDATA2LSB,
		.note_in_phdr = true, .xen_note = true, .note_align = 4,
		.entry_size = 4, .entry = 0x1000100,
		.paddr = { 0x1000000, 0x1200000 }, .offset = { SEG0_OFF, SEG1_OFF },
		.filesz = { 0x1800, 0x800 }, .memsz = { 0x1800, 0x2000 },
		.load_type = PT_LOAD,
	};
}

static uint8_t seg_byte(unsigned seg, size_t i)
{
	return (uint8_t)(i * 5 + 1 + seg * 100);
}

/* Appends one note padded to `align`. */
static size_t put_note(uint8_t *p, uint32_t align, const char *name, uint32_t namesz,
		       uint32_t type, const void *desc, uint32_t descsz)
{
	Elf32_Nhdr n = { .n_namesz = namesz, .n_descsz = descsz, .n_type = type };
	size_t pos = 0;

	memcpy(p, &n, sizeof(n));
	pos += sizeof(n);
	memcpy(p + pos, name, namesz);
	pos += ALIGN_UP(namesz, align);
	memcpy(p + pos, desc, descsz);
	pos += ALIGN_UP(descsz, align);
	return pos;
}

/* Notes that must be skipped (another owner, another Xen type, a
 * PHYS32_ENTRY under a longer or unterminated name) before the real one. */
static size_t put_notes(uint8_t *p, const struct elf_spec *s)
{
	uint8_t build_id[20];
	uint32_t decoy = 0x4444;
	size_t pos = 0;

	memset(build_id, 0xAB, sizeof(build_id));
	pos += put_note(p + pos, s->note_align, "GNU", 4, 3, build_id, sizeof(build_id));
	pos += put_note(p + pos, s->note_align, "Xen", 4, 6, &decoy, 4);
	pos += put_note(p + pos, s->note_align, "XenXen", 7, 18, &decoy, 4);
	pos += put_note(p + pos, s->note_align, "Xen", 3, 18, &decoy, 4); /* no NUL */
	if (s->xen_note)
		pos += put_note(p + pos, s->note_align, "Xen", 4, XEN_ELFNOTE_PHYS32_ENTRY,
				&s->entry, s->entry_size);
	return pos;
}

static void put_ehdr(uint8_t *img, const struct elf_spec *s, unsigned phnum, unsigned shnum)
{
	memcpy(img, ELFMAG, SELFMAG);
	img[EI_CLASS] = s->is64 ? ELFCLASS64 : ELFCLASS32;
	img[EI_DATA] = s->data;
	img[EI_VERSION] = EV_CURRENT;
	if (s->is64) {
		Elf64_Ehdr h;
		memcpy(&h, img, sizeof(h));
		h.e_type = ET_EXEC, h.e_machine = s->machine, h.e_version = EV_CURRENT;
		h.e_entry = 0xffffffff81000000ULL; /* the virtual entry is not ours to use */
		h.e_phoff = sizeof(h), h.e_phentsize = sizeof(Elf64_Phdr);
		h.e_phnum = (uint16_t)(phnum + s->phnum_extra);
		h.e_shoff = shnum ? SHDR_OFF : 0, h.e_shentsize = sizeof(Elf64_Shdr);
		h.e_shnum = (uint16_t)shnum, h.e_ehsize = sizeof(h);
		memcpy(img, &h, sizeof(h));
	} else {
		Elf32_Ehdr h;
		memcpy(&h, img, sizeof(h));
		h.e_type = ET_EXEC, h.e_machine = s->machine, h.e_version = EV_CURRENT;
		h.e_entry = 0xc1000000;
		h.e_phoff = sizeof(h), h.e_phentsize = sizeof(Elf32_Phdr);
		h.e_phnum = (uint16_t)(phnum + s->phnum_extra);
		h.e_shoff = shnum ? SHDR_OFF : 0, h.e_shentsize = sizeof(Elf32_Shdr);
		h.e_shnum = (uint16_t)shnum, h.e_ehsize = sizeof(h);
		memcpy(img, &h, sizeof(h));
	}
}

static void put_phdr(uint8_t *img, const struct elf_spec *s, unsigned i, uint32_t type,
		     uint64_t off, uint64_t paddr, uint64_t filesz, uint64_t memsz, uint64_t align)
{
	if (s->is64) {
		Elf64_Phdr p = { .p_type = type, .p_offset = off, .p_vaddr = paddr | (1ULL << 63),
				 .p_paddr = paddr, .p_filesz = filesz, .p_memsz = memsz,
				 .p_align = align };
		memcpy(img + sizeof(Elf64_Ehdr) + i * sizeof(p), &p, sizeof(p));
	} else {
		Elf32_Phdr p = { .p_type = type, .p_offset = (uint32_t)off,
				 .p_vaddr = (uint32_t)paddr | 0xc0000000u,
				 .p_paddr = (uint32_t)paddr, .p_filesz = (uint32_t)filesz,
				 .p_memsz = (uint32_t)memsz, .p_align = (uint32_t)align };
		memcpy(img + sizeof(Elf32_Ehdr) + i * sizeof(p), &p, sizeof(p));
	}
}

static void put_note_shdrs(uint8_t *img, const struct elf_spec *s, uint64_t notes_len)
{
	/* Section 0 is the null section. */
	if (s->is64) {
		Elf64_Shdr sh[2] = { { 0 }, { .sh_type = SHT_NOTE, .sh_offset = NOTES_OFF,
					      .sh_size = notes_len, .sh_addralign = s->note_align } };
		memcpy(img + SHDR_OFF, sh, sizeof(sh));
	} else {
		Elf32_Shdr sh[2] = { { 0 }, { .sh_type = SHT_NOTE, .sh_offset = NOTES_OFF,
					      .sh_size = (uint32_t)notes_len,
					      .sh_addralign = s->note_align } };
		memcpy(img + SHDR_OFF, sh, sizeof(sh));
	}
}

static uint8_t *make_elf(const struct elf_spec *s, size_t *len)
{
	uint8_t *img = xcalloc(1, FILE_LEN);
	size_t notes_len = put_notes(img + NOTES_OFF, s);
	unsigned phnum = 0;

	for (unsigned seg = 0; seg < 2; seg++) {
		for (size_t i = 0; i < 0x1800 && SEG0_OFF + seg * 0x2000 + i < SHDR_OFF; i++)
			img[(seg ? SEG1_OFF : SEG0_OFF) + i] = seg_byte(seg, i);
		put_phdr(img, s, phnum++, s->load_type, s->offset[seg], s->paddr[seg],
			 s->filesz[seg], s->memsz[seg], 0x200000);
	}
	if (s->note_in_phdr)
		put_phdr(img, s, phnum++, PT_NOTE, NOTES_OFF, 0, notes_len, notes_len,
			 s->note_align);
	if (s->note_in_shdr)
		put_note_shdrs(img, s, notes_len);
	put_ehdr(img, s, phnum, s->note_in_shdr ? 2 : 0);
	*len = FILE_LEN;
	return img;
}

static char *temp_path(struct fixture *fx, const char *name)
{
	char *p = xmalloc(strlen(fx->dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", fx->dir, name);
	return p;
}

static char *write_temp(struct fixture *fx, const char *name, const void *data, size_t len)
{
	char *path = temp_path(fx, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static char *write_elf(struct fixture *fx, const struct elf_spec *s, size_t cut)
{
	size_t len;
	uint8_t *img = make_elf(s, &len);
	char *path = write_temp(fx, "vmlinux", img, cut ? cut : len);
	free(img);
	return path;
}

static uint8_t initrd_byte(size_t i)
{
	return (uint8_t)(i * 13 + 1);
}

static char *write_initramfs(struct fixture *fx, size_t len)
{
	uint8_t *data = xmalloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = initrd_byte(i);
	char *path = write_temp(fx, "initrd", data, len);
	free(data);
	return path;
}

static char *write_sparse(struct fixture *fx, const char *name, size_t len)
{
	char *path = write_temp(fx, name, "", 0);
	assert_int_equal(truncate(path, (off_t)len), 0);
	return path;
}

/* Asserts the log written since the last call is one line containing both needles. */
static void expect_log(struct fixture *fx, const char *a, const char *b)
{
	FILE *f = fopen(fx->log_path, "r");
	char buf[4096];
	size_t n;

	assert_non_null(f);
	fseek(f, fx->log_off, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fx->log_off = ftell(f);
	fclose(f);
	if (!strstr(buf, a) || !strstr(buf, b))
		fail_msg("log \"%s\" lacks \"%s\" or \"%s\"", buf, a, b);
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
}

static int group_setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));

	strcpy(fx->dir, "/tmp/test_pvh.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/log", fx->dir);
	assert_int_equal(log_init(LOG_ERROR, fx->dir, "log"), 0);
	fx->ram = xmalloc(RAM_SIZE);
	*state = fx;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	log_init(LOG_ERROR, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx->ram);
	free(fx);
	return 0;
}

static int test_setup(void **state)
{
	struct fixture *fx = *state;

	memset(fx->ram, 0xCC, RAM_SIZE);
	gm_init_buffer(&fx->gm, 0, fx->ram, RAM_SIZE);
	memset(&fx->e820, 0, sizeof(fx->e820));
	fx->e820.entry[0] = (struct e820_entry){ 0, X86_EBDA_START, E820_RAM };
	fx->e820.entry[1] = (struct e820_entry){ X86_EBDA_START,
						 X86_HIGHMEM_START - X86_EBDA_START, E820_RESERVED };
	fx->e820.entry[2] = (struct e820_entry){ X86_HIGHMEM_START,
						 RAM_SIZE - X86_HIGHMEM_START, E820_RAM };
	fx->e820.nr = 3;
	return 0;
}

static int load(struct fixture *fx, const char *kernel, const char *cmdline,
		const char *initrd, struct boot_entry *e)
{
	struct boot_input in = {
		.kernel_path = kernel, .cmdline = cmdline, .initramfs_path = initrd,
		.e820 = &fx->e820, .rsdp_addr = X86_ACPI_START,
	};
	memset(e, 0xEE, sizeof(*e));
	return load_pvh(&fx->gm, &in, e);
}

static const struct hvm_start_info *start_info(struct fixture *fx)
{
	return (const struct hvm_start_info *)(fx->ram + X86_PVH_START_INFO);
}

static void assert_segments_loaded(struct fixture *fx, const struct elf_spec *s)
{
	for (unsigned seg = 0; seg < 2; seg++) {
		const uint8_t *p = fx->ram + s->paddr[seg];
		for (size_t i = 0; i < s->filesz[seg]; i++)
			if (p[i] != seg_byte(seg, i))
				fail_msg("segment %u byte %zu differs", seg, i);
		for (size_t i = s->filesz[seg]; i < s->memsz[seg]; i++)
			if (p[i] != 0)
				fail_msg("segment %u bss byte %zu not zeroed", seg, i);
		assert_int_equal(p[s->memsz[seg]], 0xCC); /* nothing past memsz */
	}
}

static void check_full_load(struct fixture *fx, const struct elf_spec *s)
{
	char *kernel = write_elf(fx, s, 0);
	char *initrd = write_initramfs(fx, 10000);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, "console=hvc0 pvh", initrd, &e), 0);
	assert_int_equal(e.mode, BOOT_PVH32);
	assert_int_equal(e.rip, s->entry);
	assert_int_equal(e.rbx, X86_PVH_START_INFO);
	assert_segments_loaded(fx, s);

	const struct hvm_start_info *si = start_info(fx);
	assert_int_equal(si->magic, 0x336ec578);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->flags, 0);
	assert_int_equal(si->cmdline_paddr, X86_CMDLINE);
	assert_memory_equal(fx->ram + X86_CMDLINE, "console=hvc0 pvh", 17);
	assert_int_equal(si->rsdp_paddr, X86_ACPI_START);
	assert_int_equal(si->reserved, 0);

	assert_int_equal(si->nr_modules, 1);
	assert_in_range(si->modlist_paddr, X86_PVH_START_INFO + sizeof(*si),
			X86_PVH_START_INFO + 4096 - sizeof(struct hvm_modlist_entry));
	const struct hvm_modlist_entry *mod =
		(const struct hvm_modlist_entry *)(fx->ram + si->modlist_paddr);
	uint64_t rd = ALIGN_DOWN(RAM_SIZE - 10000, 4096);
	assert_int_equal(mod->paddr, rd);
	assert_int_equal(mod->size, 10000);
	assert_int_equal(mod->cmdline_paddr, 0);
	assert_int_equal(mod->reserved, 0);
	for (size_t i = 0; i < 10000; i++)
		if (fx->ram[rd + i] != initrd_byte(i))
			fail_msg("initramfs byte %zu differs", i);

	assert_int_equal(si->memmap_entries, 3);
	assert_in_range(si->memmap_paddr, X86_PVH_START_INFO + sizeof(*si),
			X86_PVH_START_INFO + 4096 - 3 * sizeof(struct hvm_memmap_table_entry));
	/* The three pieces do not overlap each other. */
	assert_true(si->modlist_paddr + sizeof(*mod) <= si->memmap_paddr ||
		    si->memmap_paddr + 3 * 24 <= si->modlist_paddr);
	const struct hvm_memmap_table_entry *mm =
		(const struct hvm_memmap_table_entry *)(fx->ram + si->memmap_paddr);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(mm[i].addr, fx->e820.entry[i].addr);
		assert_int_equal(mm[i].size, fx->e820.entry[i].size);
		assert_int_equal(mm[i].type, fx->e820.entry[i].type);
		assert_int_equal(mm[i].reserved, 0);
	}
	free(kernel);
	free(initrd);
}

static void loads_elf64(void **state)
{
	struct elf_spec s = default_spec(true);
	check_full_load(*state, &s);
}

static void loads_elf32_with_8_byte_entry(void **state)
{
	struct elf_spec s = default_spec(false);
	s.entry_size = 8;
	s.entry = 0x1200040;
	check_full_load(*state, &s);
}

static void loads_elf64_with_8_byte_note_padding(void **state)
{
	struct elf_spec s = default_spec(true);
	s.note_align = 8;
	s.entry = 0x1000010;
	check_full_load(*state, &s);
}

static void finds_note_in_sections(void **state)
{
	struct elf_spec s = default_spec(true);
	s.note_in_phdr = false;
	s.note_in_shdr = true;
	s.entry = 0x1000200;
	check_full_load(*state, &s);
}

static void no_initramfs_no_module(void **state)
{
	struct fixture *fx = *state;
	struct elf_spec s = default_spec(true);
	char *kernel = write_elf(fx, &s, 0);
	struct boot_input in = { .kernel_path = kernel };
	struct boot_entry e;

	assert_int_equal(load_pvh(&fx->gm, &in, &e), 0);
	const struct hvm_start_info *si = start_info(fx);
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->modlist_paddr, 0);
	assert_int_equal(si->rsdp_paddr, 0);
	assert_int_equal(fx->ram[X86_CMDLINE], 0);
	/* Without a given map, guest memory itself is reported. */
	assert_int_equal(si->memmap_entries, 1);
	const struct hvm_memmap_table_entry *mm =
		(const struct hvm_memmap_table_entry *)(fx->ram + si->memmap_paddr);
	assert_int_equal(mm[0].addr, 0);
	assert_int_equal(mm[0].size, RAM_SIZE);
	assert_int_equal(mm[0].type, E820_RAM);
	free(kernel);
}

static void initramfs_above_kernel(void **state)
{
	struct fixture *fx = *state;
	struct elf_spec s = default_spec(true);
	char *kernel = write_elf(fx, &s, 0);
	uint64_t kernel_end = s.paddr[1] + s.memsz[1];
	uint64_t room = RAM_SIZE - ALIGN_UP(kernel_end, 4096);
	char *initrd = write_sparse(fx, "big", room);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, initrd, &e), 0);
	const struct hvm_modlist_entry *mod =
		(const struct hvm_modlist_entry *)(fx->ram + start_info(fx)->modlist_paddr);
	assert_int_equal(mod->paddr, ALIGN_UP(kernel_end, 4096));
	assert_int_equal(mod->size, room);
	free(initrd);

	initrd = write_sparse(fx, "big", room + 1);
	assert_int_equal(load(fx, kernel, NULL, initrd, &e), -1);
	expect_log(fx, initrd, "too large");
	free(initrd);
	free(kernel);
}

static void initramfs_stays_below_2g(void **state)
{
	struct fixture *fx = *state;
	struct elf_spec s = default_spec(true);
	struct mem_config cfg = { .size = 2 * GiB + 16 * MiB, .backend = MEM_BACKEND_ANON };
	struct guest_mem gm;
	struct boot_entry e;
	char *kernel = write_elf(fx, &s, 0);
	char *initrd = write_initramfs(fx, 10000);

	assert_int_equal(gm_alloc(&gm, &cfg), 0);
	assert_int_equal(gm_add_region(&gm, 0, 0, 2 * GiB), 0);
	assert_int_equal(gm_add_region(&gm, X86_RAM64_START, 2 * GiB, 16 * MiB), 0);
	struct boot_input in = { .kernel_path = kernel, .initramfs_path = initrd };
	assert_int_equal(load_pvh(&gm, &in, &e), 0);

	const struct hvm_start_info *si = gm_ptr(&gm, X86_PVH_START_INFO, sizeof(*si));
	const struct hvm_modlist_entry *mod = gm_ptr(&gm, si->modlist_paddr, sizeof(*mod));
	assert_int_equal(mod->paddr, ALIGN_DOWN(2 * GiB - 10000, 4096));
	assert_int_equal(si->memmap_entries, 2);
	gm_free(&gm);
	free(kernel);
	free(initrd);
}

static void expect_refused(struct fixture *fx, const struct elf_spec *s, size_t cut,
			   const char *why)
{
	char *kernel = write_elf(fx, s, cut);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, NULL, &e), -1);
	expect_log(fx, kernel, why);
	free(kernel);
}

static void refuses_bad_elves(void **state)
{
	struct fixture *fx = *state;
	struct elf_spec s = default_spec(true);

	expect_refused(fx, &s, 10, "not an ELF");
	expect_refused(fx, &s, 40, "truncated header");
	expect_refused(fx, &s, 0x80, "program headers"); /* cut inside the headers */
	s.phnum_extra = 300;
	expect_refused(fx, &s, 0, "program headers");
	s = default_spec(true);
	s.machine = EM_AARCH64;
	expect_refused(fx, &s, 0, "x86");
	s = default_spec(false);
	s.data = ELFDATA2MSB;
	expect_refused(fx, &s, 0, "little-endian");
	s = default_spec(true);
	s.xen_note = false;
	expect_refused(fx, &s, 0, "no PVH entry");
	s.note_in_phdr = false; /* no notes at all */
	expect_refused(fx, &s, 0, "no PVH entry");
	s = default_spec(true);
	s.entry_size = 8;
	s.entry = X86_IDENTITY_MAP_END;
	expect_refused(fx, &s, 0, "32-bit");
	s = default_spec(true);
	s.load_type = PT_NULL;
	expect_refused(fx, &s, 0, "no loadable segment");
}

static void refuses_bad_segments(void **state)
{
	struct fixture *fx = *state;
	struct elf_spec s = default_spec(true);

	s.paddr[1] = RAM_SIZE - 0x1000; /* bss runs past the end of RAM */
	expect_refused(fx, &s, 0, "outside guest RAM");
	s = default_spec(false);
	s.paddr[0] = 0x8000; /* over the boot structures */
	expect_refused(fx, &s, 0, "outside guest RAM");
	s = default_spec(true);
	s.paddr[1] = UINT64_MAX - 0x100; /* end wraps */
	expect_refused(fx, &s, 0, "outside guest RAM");
	s = default_spec(true);
	s.offset[1] = FILE_LEN - 0x7ff;
	expect_refused(fx, &s, 0, "outside the file");
	s = default_spec(true);
	s.offset[1] = UINT64_MAX - 0x10;
	expect_refused(fx, &s, 0, "outside the file");
	s = default_spec(true);
	s.filesz[0] = s.memsz[0] + 1;
	expect_refused(fx, &s, 0, "more file bytes");
	/* Nothing was written before the refusal. */
	assert_int_equal(fx->ram[s.paddr[1]], 0xCC);
	assert_int_equal(fx->ram[X86_PVH_START_INFO], 0xCC);
}

static void cmdline_limit(void **state)
{
	struct fixture *fx = *state;
	struct elf_spec s = default_spec(true);
	char *kernel = write_elf(fx, &s, 0);
	char *line = xmalloc(X86_CMDLINE_MAX + 1);
	struct boot_entry e;

	memset(line, 'y', X86_CMDLINE_MAX);
	line[X86_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(load(fx, kernel, line, NULL, &e), 0);
	assert_int_equal(fx->ram[X86_CMDLINE + X86_CMDLINE_MAX - 2], 'y');
	assert_int_equal(fx->ram[X86_CMDLINE + X86_CMDLINE_MAX - 1], 0);
	line[X86_CMDLINE_MAX - 1] = 'y';
	line[X86_CMDLINE_MAX] = '\0';
	assert_int_equal(load(fx, kernel, line, NULL, &e), -1);
	expect_log(fx, kernel, "command line");
	free(line);
	free(kernel);
}

static void refuses_unreadable_files(void **state)
{
	struct fixture *fx = *state;
	struct elf_spec s = default_spec(true);
	char *kernel = write_elf(fx, &s, 0);
	char *missing = temp_path(fx, "missing");
	struct boot_entry e;

	assert_int_equal(load(fx, missing, NULL, NULL, &e), -1);
	expect_log(fx, missing, "No such file");
	assert_int_equal(load(fx, kernel, NULL, missing, &e), -1);
	expect_log(fx, missing, "initramfs");
	free(kernel);
	free(missing);
}

static void loads_real_vmlinux(void **state)
{
	const char *path = getenv("ALIOTH_TEST_PVH");
	uint64_t ram = 512 * MiB;
	struct guest_mem gm;
	struct boot_entry e;
	uint8_t *img;
	long len;

	if (!path || !*path) {
		print_message("ALIOTH_TEST_PVH not set: real vmlinux not loaded\n");
		skip();
	}
	uint8_t *mem = xcalloc(1, ram);
	gm_init_buffer(&gm, 0, mem, ram);
	struct boot_input in = { .kernel_path = path, .cmdline = "console=hvc0" };
	assert_int_equal(load_pvh(&gm, &in, &e), 0);
	assert_int_equal(e.mode, BOOT_PVH32);

	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	img = xmalloc((size_t)len);
	assert_int_equal(fread(img, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof(eh));
	bool entry_in_segment = false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		assert_memory_equal(mem + ph.p_paddr, img + ph.p_offset, ph.p_filesz);
		entry_in_segment |= e.rip >= ph.p_paddr && e.rip < ph.p_paddr + ph.p_memsz;
	}
	assert_true(entry_in_segment);
	const struct hvm_start_info *si = (const void *)(mem + X86_PVH_START_INFO);
	assert_int_equal(si->magic, XEN_HVM_START_MAGIC);
	print_message("real vmlinux %s: PVH entry %#llx\n", path, (unsigned long long)e.rip);
	free(img);
	free(mem);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(loads_elf64, test_setup),
		cmocka_unit_test_setup(loads_elf32_with_8_byte_entry, test_setup),
		cmocka_unit_test_setup(loads_elf64_with_8_byte_note_padding, test_setup),
		cmocka_unit_test_setup(finds_note_in_sections, test_setup),
		cmocka_unit_test_setup(no_initramfs_no_module, test_setup),
		cmocka_unit_test_setup(initramfs_above_kernel, test_setup),
		cmocka_unit_test_setup(initramfs_stays_below_2g, test_setup),
		cmocka_unit_test_setup(refuses_bad_elves, test_setup),
		cmocka_unit_test_setup(refuses_bad_segments, test_setup),
		cmocka_unit_test_setup(cmdline_limit, test_setup),
		cmocka_unit_test_setup(refuses_unreadable_files, test_setup),
		cmocka_unit_test_setup(loads_real_vmlinux, test_setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
