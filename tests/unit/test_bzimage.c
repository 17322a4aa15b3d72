/* bzImage loader: synthetic images written to a temp dir and loaded into a
 * malloc'd guest memory; every zero-page field we set or copy, placement of
 * kernel and initramfs, and every refusal with its log line. A real kernel is
 * loaded too when ALIOTH_TEST_BZIMAGE names one. */
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
#include "loader/bootparams.h"
#include "loader/loader.h"
#include "util/log.h"
#include "util/util.h"

#define RAM_SIZE (64 * MiB)
#define PAYLOAD_LEN 10000

struct fixture {
	char dir[64];
	char log_path[128];
	long log_off;
	uint8_t *ram;
	uint64_t ram_size;
	struct guest_mem gm;
	struct e820_map e820;
};

/* What the synthetic image's header says; defaults look like a modern
 * x86_64 kernel. */
struct bz_spec {
	uint8_t setup_sects;      /* sectors of setup written after the boot sector */
	uint8_t setup_sects_hdr;  /* value in the header (0 means 4) */
	uint8_t jump_byte;        /* header end = 0x202 + this */
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint8_t min_alignment;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	size_t payload_len;
};

static struct bz_spec default_spec(void)
{
	return (struct bz_spec){
		.setup_sects = 4, .setup_sects_hdr = 4, .jump_byte = 0x6a,
		.version = 0x020f, .loadflags = BP_LOADED_HIGH, .xloadflags = 0x3,
		.relocatable = 1, .min_alignment = 21, .kernel_alignment = 0x200000,
		.pref_address = 0x1000000, .init_size = 4 * MiB, .cmdline_size = 2047,
		.initrd_addr_max = 0x7fffffff, .payload_len = PAYLOAD_LEN,
	};
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static size_t payload_offset(const struct bz_spec *s)
{
	return (size_t)(s->setup_sects + 1) * 512;
}

static uint8_t *make_bzimage(const struct bz_spec *s, size_t *len)
{
	size_t off = payload_offset(s);
	uint8_t *img;

	*len = off + s->payload_len;
	img = xcalloc(1, *len);
	/* A "boot sector" and setup code full of noise that must not reach the
	 * zero page, and noise after the header end. */
	memset(img, 0x55, 0x1f1);
	memset(img + 0x26c, 0x77, off - 0x26c);
	img[0x1f1] = s->setup_sects_hdr;
	put32(img + 0x1f4, (uint32_t)(s->payload_len / 16));
	put16(img + 0x1fa, 0xffff);
	put16(img + 0x1fe, 0xAA55);
	img[0x200] = 0xEB;
	img[0x201] = s->jump_byte;
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, s->version);
	img[0x211] = s->loadflags;
	put32(img + 0x22c, s->initrd_addr_max);
	put32(img + 0x230, s->kernel_alignment);
	img[0x234] = s->relocatable;
	img[0x235] = s->min_alignment;
	put16(img + 0x236, s->xloadflags);
	put32(img + 0x238, s->cmdline_size);
	put64(img + 0x258, s->pref_address);
	put32(img + 0x260, s->init_size);
	put32(img + 0x264, 0x190);
	put32(img + 0x268, 0xdeadbeef); /* kernel_info_offset: only inside a 0x6a header */
	for (size_t i = 0; i < s->payload_len; i++)
		img[off + i] = payload_byte(i);
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

static char *write_bzimage(struct fixture *fx, const struct bz_spec *s)
{
	size_t len;
	uint8_t *img = make_bzimage(s, &len);
	char *path = write_temp(fx, "bzImage", img, len);
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

/* A sparse file of `len` zero bytes, for sizes only the placement cares about. */
static char *write_sparse(struct fixture *fx, const char *name, size_t len)
{
	char *path = write_temp(fx, name, "", 0);
	assert_int_equal(truncate(path, (off_t)len), 0);
	return path;
}

/* Asserts the log lines written since the last call contain both needles. */
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
	assert_non_null(strchr(buf, '\n'));
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1); /* exactly one line */
}

static void fill_e820(struct e820_map *m)
{
	memset(m, 0, sizeof(*m));
	m->entry[0] = (struct e820_entry){ 0, X86_EBDA_START, E820_RAM };
	m->entry[1] = (struct e820_entry){ X86_EBDA_START, X86_HIGHMEM_START - X86_EBDA_START,
					   E820_RESERVED };
	m->entry[2] = (struct e820_entry){ X86_HIGHMEM_START, RAM_SIZE - X86_HIGHMEM_START,
					   E820_RAM };
	m->nr = 3;
}

static int setup_ram(struct fixture *fx, uint64_t size)
{
	free(fx->ram);
	fx->ram = xmalloc(size);
	fx->ram_size = size;
	memset(fx->ram, 0xCC, size);
	gm_init_buffer(&fx->gm, 0, fx->ram, size);
	return 0;
}

static int group_setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));

	strcpy(fx->dir, "/tmp/test_bzimage.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/log", fx->dir);
	assert_int_equal(log_init(LOG_ERROR, fx->dir, "log"), 0);
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
	fill_e820(&fx->e820);
	return setup_ram(fx, RAM_SIZE);
}

static struct boot_params *zero_page(struct fixture *fx)
{
	return (struct boot_params *)(fx->ram + X86_ZERO_PAGE);
}

static void assert_payload_at(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != payload_byte(i))
			fail_msg("payload byte %zu differs", i);
}

static void assert_initrd_at(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != initrd_byte(i))
			fail_msg("initramfs byte %zu differs", i);
}

static void assert_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			fail_msg("byte %zu is %#x, expected 0", i, b[i]);
}

static int load(struct fixture *fx, const char *kernel, const char *cmdline,
		const char *initrd, struct boot_entry *e)
{
	struct boot_input in = {
		.kernel_path = kernel, .cmdline = cmdline, .initramfs_path = initrd,
		.e820 = &fx->e820, .rsdp_addr = X86_ACPI_START,
	};
	memset(e, 0xEE, sizeof(*e));
	return load_bzimage(&fx->gm, &in, e);
}

static void loads_kernel_and_fills_zero_page(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	char *kernel = write_bzimage(fx, &s);
	char *initrd = write_initramfs(fx, 10000);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, "console=ttyS0 quiet", initrd, &e), 0);
	assert_int_equal(e.mode, BOOT_LINUX64);
	assert_int_equal(e.rip, X86_KERNEL_START + 0x200);
	assert_int_equal(e.rsi, X86_ZERO_PAGE);

	struct boot_params *bp = zero_page(fx);
	const struct setup_header *h = &bp->hdr;
	/* Copied from the file. */
	assert_int_equal(h->setup_sects, 4);
	assert_int_equal(h->syssize, PAYLOAD_LEN / 16);
	assert_int_equal(h->vid_mode, 0xffff);
	assert_int_equal(h->boot_flag, 0xAA55);
	assert_int_equal(h->jump, 0x6aEB);
	assert_int_equal(h->header, BP_HEADER_MAGIC);
	assert_int_equal(h->version, 0x020f);
	assert_int_equal(h->initrd_addr_max, 0x7fffffff);
	assert_int_equal(h->kernel_alignment, 0x200000);
	assert_int_equal(h->relocatable_kernel, 1);
	assert_int_equal(h->min_alignment, 21);
	assert_int_equal(h->xloadflags, 0x3);
	assert_int_equal(h->cmdline_size, 2047);
	assert_int_equal(h->pref_address, 0x1000000);
	assert_int_equal(h->init_size, 4 * MiB);
	assert_int_equal(h->handover_offset, 0x190);
	assert_int_equal(h->kernel_info_offset, 0xdeadbeef);
	/* Set by the loader. */
	assert_int_equal(h->type_of_loader, 0xFF);
	assert_int_equal(h->loadflags, BP_LOADED_HIGH | BP_CAN_USE_HEAP);
	assert_int_equal(h->heap_end_ptr, 0xFE00);
	assert_int_equal(h->code32_start, X86_KERNEL_START);
	assert_int_equal(h->cmd_line_ptr, X86_CMDLINE);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_int_equal(h->setup_data, 0);
	assert_memory_equal(fx->ram + X86_CMDLINE, "console=ttyS0 quiet", 20);

	uint64_t rd = ALIGN_DOWN(RAM_SIZE - 10000, 4096);
	assert_int_equal(h->ramdisk_image, rd);
	assert_int_equal(h->ramdisk_size, 10000);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_initrd_at(fx->ram + rd, 10000);

	assert_int_equal(bp->acpi_rsdp_addr, X86_ACPI_START);
	assert_int_equal(bp->e820_entries, 3);
	assert_memory_equal(bp->e820_table, fx->e820.entry, 3 * sizeof(struct boot_e820_entry));
	assert_zero(&bp->e820_table[3], sizeof(bp->e820_table) - 3 * sizeof(bp->e820_table[0]));

	/* Nothing else from the file (boot sector, bytes after the header) or
	 * from the old memory contents leaks into the page. */
	assert_zero(bp, offsetof(struct boot_params, acpi_rsdp_addr));
	assert_zero(bp->_pad3, offsetof(struct boot_params, ext_ramdisk_image) -
				       offsetof(struct boot_params, _pad3));
	assert_zero(bp->_pad4, offsetof(struct boot_params, e820_entries) -
				       offsetof(struct boot_params, _pad4));
	assert_zero(&bp->eddbuf_entries, BP_SETUP_HEADER_OFF - 0x1E9);
	assert_zero(bp->_pad7, 0x2D0 - 0x26C);
	assert_zero(bp->_pad8, 4096 - offsetof(struct boot_params, _pad8));

	assert_payload_at(fx->ram + X86_KERNEL_START, PAYLOAD_LEN);
	free(kernel);
	free(initrd);
}

static void header_length_follows_jump_byte(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	s.jump_byte = 0x66; /* header ends at 0x268: kernel_info_offset is not part of it */
	char *kernel = write_bzimage(fx, &s);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, NULL, &e), 0);
	assert_int_equal(zero_page(fx)->hdr.handover_offset, 0x190);
	assert_int_equal(zero_page(fx)->hdr.kernel_info_offset, 0);
	free(kernel);
}

static void setup_sects_zero_means_four(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	s.setup_sects_hdr = 0;
	char *kernel = write_bzimage(fx, &s);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, NULL, &e), 0);
	assert_int_equal(zero_page(fx)->hdr.setup_sects, 4);
	assert_payload_at(fx->ram + X86_KERNEL_START, PAYLOAD_LEN);
	free(kernel);
}

static void payload_offset_follows_setup_sects(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	s.setup_sects = s.setup_sects_hdr = 30;
	char *kernel = write_bzimage(fx, &s);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, NULL, &e), 0);
	assert_payload_at(fx->ram + X86_KERNEL_START, PAYLOAD_LEN);
	free(kernel);
}

static void no_cmdline_no_initramfs(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	char *kernel = write_bzimage(fx, &s);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, NULL, &e), 0);
	assert_int_equal(zero_page(fx)->hdr.cmd_line_ptr, X86_CMDLINE);
	assert_int_equal(fx->ram[X86_CMDLINE], 0);
	assert_int_equal(zero_page(fx)->hdr.ramdisk_image, 0);
	assert_int_equal(zero_page(fx)->hdr.ramdisk_size, 0);
	free(kernel);
}

static void rsdp_only_from_protocol_2_14(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	s.version = 0x020d;
	char *kernel = write_bzimage(fx, &s);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, NULL, &e), 0);
	assert_int_equal(zero_page(fx)->acpi_rsdp_addr, 0);

	free(kernel);
	s.version = 0x020e;
	kernel = write_bzimage(fx, &s);
	assert_int_equal(load(fx, kernel, NULL, NULL, &e), 0);
	assert_int_equal(zero_page(fx)->acpi_rsdp_addr, X86_ACPI_START);
	free(kernel);
}

static void e820_from_guest_memory_when_none_given(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	char *kernel = write_bzimage(fx, &s);
	struct boot_input in = { .kernel_path = kernel };
	struct boot_entry e;

	assert_int_equal(load_bzimage(&fx->gm, &in, &e), 0);
	struct boot_params *bp = zero_page(fx);
	assert_int_equal(bp->e820_entries, 1);
	assert_int_equal(bp->e820_table[0].addr, 0);
	assert_int_equal(bp->e820_table[0].size, RAM_SIZE);
	assert_int_equal(bp->e820_table[0].type, E820_RAM);
	assert_int_equal(bp->acpi_rsdp_addr, 0);
	free(kernel);
}

/* Loads a kernel with `s` and returns where its payload went. */
static uint64_t load_addr_of(struct fixture *fx, const struct bz_spec *s)
{
	char *kernel = write_bzimage(fx, s);
	struct boot_entry e;

	memset(fx->ram, 0xCC, fx->ram_size); /* no payload from an earlier load */
	assert_int_equal(load(fx, kernel, NULL, NULL, &e), 0);
	free(kernel);
	uint64_t addr = e.rip - 0x200;
	assert_payload_at(fx->ram + addr, s->payload_len);
	assert_int_equal(zero_page(fx)->hdr.code32_start, addr);
	return addr;
}

static void load_address_follows_protocol(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();

	setup_ram(fx, 128 * MiB);
	s.pref_address = 32 * MiB;            /* aligned: honoured */
	assert_int_equal(load_addr_of(fx, &s), 32 * MiB);
	s.pref_address = 17 * MiB;            /* not 2 MiB aligned: default */
	assert_int_equal(load_addr_of(fx, &s), X86_KERNEL_START);
	s.pref_address = 126 * MiB;           /* does not fit: default */
	assert_int_equal(load_addr_of(fx, &s), X86_KERNEL_START);
	s.pref_address = 0;
	s.kernel_alignment = 64 * MiB;        /* default rounded up to the alignment */
	assert_int_equal(load_addr_of(fx, &s), 64 * MiB);
	s.kernel_alignment = 0;               /* unusable: min_alignment decides */
	s.min_alignment = 25;
	assert_int_equal(load_addr_of(fx, &s), 32 * MiB);
	s.relocatable = 0;                    /* fixed kernels go to 1 MiB */
	s.pref_address = 32 * MiB;
	assert_int_equal(load_addr_of(fx, &s), X86_HIGHMEM_START);
}

static void initramfs_respects_initrd_addr_max(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	s.initrd_addr_max = 32 * MiB - 1; /* the last byte the initramfs may use */
	char *kernel = write_bzimage(fx, &s);
	char *initrd = write_initramfs(fx, 8192);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, initrd, &e), 0);
	assert_int_equal(zero_page(fx)->hdr.ramdisk_image, 32 * MiB - 8192);
	assert_initrd_at(fx->ram + 32 * MiB - 8192, 8192);
	free(kernel);
	free(initrd);
}

static void initramfs_fills_exactly_to_kernel_end(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	char *kernel = write_bzimage(fx, &s);
	/* RAM ends at 64 MiB, the kernel claims 16..20 MiB (init_size). */
	char *initrd = write_sparse(fx, "big", 44 * MiB);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, NULL, initrd, &e), 0);
	assert_int_equal(zero_page(fx)->hdr.ramdisk_image, 20 * MiB);
	assert_int_equal(zero_page(fx)->hdr.ramdisk_size, 44 * MiB);
	free(initrd);

	initrd = write_sparse(fx, "big", 44 * MiB + 1);
	assert_int_equal(load(fx, kernel, NULL, initrd, &e), -1);
	expect_log(fx, initrd, "too large");
	free(kernel);
	free(initrd);
}

static void initramfs_stays_below_2g(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	struct mem_config cfg = { .size = 2 * GiB + 16 * MiB, .backend = MEM_BACKEND_ANON };
	struct guest_mem gm;
	struct boot_entry e;
	char *kernel = write_bzimage(fx, &s);
	char *initrd = write_initramfs(fx, 10000);

	assert_int_equal(gm_alloc(&gm, &cfg), 0);
	assert_int_equal(gm_add_region(&gm, 0, 0, 2 * GiB), 0);
	assert_int_equal(gm_add_region(&gm, X86_RAM64_START, 2 * GiB, 16 * MiB), 0);
	struct boot_input in = { .kernel_path = kernel, .initramfs_path = initrd };
	assert_int_equal(load_bzimage(&gm, &in, &e), 0);

	const struct boot_params *bp = gm_ptr(&gm, X86_ZERO_PAGE, sizeof(*bp));
	uint64_t rd = ALIGN_DOWN(2 * GiB - 10000, 4096);
	assert_int_equal(bp->hdr.ramdisk_image, rd);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_initrd_at(gm_ptr(&gm, rd, 10000), 10000);
	assert_int_equal(bp->e820_entries, 2);
	assert_int_equal(bp->e820_table[1].addr, X86_RAM64_START);
	gm_free(&gm);
	free(kernel);
	free(initrd);
}

static void cmdline_limits(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	s.cmdline_size = 10;
	char *kernel = write_bzimage(fx, &s);
	struct boot_entry e;

	assert_int_equal(load(fx, kernel, "0123456789", NULL, &e), 0);
	assert_memory_equal(fx->ram + X86_CMDLINE, "0123456789", 11);
	assert_int_equal(load(fx, kernel, "0123456789a", NULL, &e), -1);
	expect_log(fx, kernel, "command line");
	free(kernel);

	/* A kernel accepting more than our buffer still gets at most 64 KiB. */
	s.cmdline_size = 0xffffffff;
	kernel = write_bzimage(fx, &s);
	char *line = xmalloc(X86_CMDLINE_MAX + 1);
	memset(line, 'x', X86_CMDLINE_MAX);
	line[X86_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(load(fx, kernel, line, NULL, &e), 0);
	assert_int_equal(fx->ram[X86_CMDLINE + X86_CMDLINE_MAX - 2], 'x');
	assert_int_equal(fx->ram[X86_CMDLINE + X86_CMDLINE_MAX - 1], 0);
	line[X86_CMDLINE_MAX - 1] = 'x';
	line[X86_CMDLINE_MAX] = '\0';
	assert_int_equal(load(fx, kernel, line, NULL, &e), -1);
	expect_log(fx, kernel, "command line");
	free(line);
	free(kernel);
}

/* Writes a variant of the default image changed by `edit`, expects a
 * refusal whose log line names the file and contains `why`. */
static void expect_refused(struct fixture *fx, const struct bz_spec *s, size_t cut,
			   void (*edit)(uint8_t *img), const char *why)
{
	size_t len;
	uint8_t *img = make_bzimage(s, &len);
	struct boot_entry e;

	if (edit)
		edit(img);
	char *kernel = write_temp(fx, "bad", img, cut ? cut : len);
	assert_int_equal(load(fx, kernel, NULL, NULL, &e), -1);
	expect_log(fx, kernel, why);
	free(img);
	free(kernel);
}

static void break_boot_flag(uint8_t *img) { img[0x1FE] = 0; }
static void break_hdrs(uint8_t *img) { img[0x205] = 'X'; }
static void long_header(uint8_t *img) { img[0x201] = 0x7f; }

static void refuses_bad_images(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();

	expect_refused(fx, &s, 0x100, NULL, "not a bzImage");
	expect_refused(fx, &s, 0x250, NULL, "header truncated");
	expect_refused(fx, &s, 0, break_boot_flag, "not a bzImage");
	expect_refused(fx, &s, 0, break_hdrs, "not a bzImage");
	expect_refused(fx, &s, payload_offset(&s), NULL, "truncated");
	expect_refused(fx, &s, payload_offset(&s) + PAYLOAD_LEN - 1, NULL, "truncated");
	expect_refused(fx, &s, 0x270, long_header, "header truncated");
	s.version = 0x020b;
	expect_refused(fx, &s, 0, NULL, "2.11 is too old");
	s = default_spec();
	s.xloadflags = 0x2;
	expect_refused(fx, &s, 0, NULL, "64-bit");
	s = default_spec();
	s.loadflags = 0;
	expect_refused(fx, &s, 0, NULL, "zImage");
	s = default_spec();
	s.init_size = RAM_SIZE - 16 * MiB + 1;
	expect_refused(fx, &s, 0, NULL, "too small");
}

static void refuses_unreadable_files(void **state)
{
	struct fixture *fx = *state;
	struct bz_spec s = default_spec();
	char *kernel = write_bzimage(fx, &s);
	char *missing = temp_path(fx, "missing");
	struct boot_entry e;

	assert_int_equal(load(fx, missing, NULL, NULL, &e), -1);
	expect_log(fx, missing, "No such file");
	assert_int_equal(load(fx, kernel, NULL, missing, &e), -1);
	expect_log(fx, missing, "initramfs");
	assert_int_equal(load(fx, fx->dir, NULL, NULL, &e), -1);
	expect_log(fx, fx->dir, "directory");
	free(kernel);
	free(missing);
}

static void loads_real_kernel(void **state)
{
	struct fixture *fx = *state;
	const char *path = getenv("ALIOTH_TEST_BZIMAGE");
	struct boot_entry e;
	FILE *f;

	if (!path || !*path) {
		print_message("ALIOTH_TEST_BZIMAGE not set: real kernel not loaded\n");
		skip();
	}
	setup_ram(fx, 512 * MiB);
	char *initrd = write_initramfs(fx, 100000);
	assert_int_equal(load(fx, path, "console=ttyS0", initrd, &e), 0);

	f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t head[0x300];
	assert_int_equal(fread(head, 1, sizeof(head), f), sizeof(head));
	const struct boot_params *bp = zero_page(fx);
	size_t hdr_end = 0x202 + head[0x201];
	size_t setup = (size_t)(head[0x1f1] ? head[0x1f1] : 4) + 1;
	assert_true(bp->hdr.version >= 0x020c);
	/* The header is the file's except the fields the loader owns. */
	assert_memory_equal(&bp->hdr.version, head + 0x206, 0x210 - 0x206);
	assert_memory_equal(&bp->hdr.initrd_addr_max, head + 0x22c, MIN(hdr_end, 0x26c) - 0x22c);
	assert_int_equal(e.rip % bp->hdr.kernel_alignment, 0x200);
	assert_true(e.rip - 0x200 + MAX(bp->hdr.init_size, 1) <= bp->hdr.ramdisk_image);
	assert_initrd_at(fx->ram + bp->hdr.ramdisk_image, 100000);

	uint8_t *chunk = xmalloc(1 * MiB);
	fseek(f, (long)(setup * 512), SEEK_SET);
	size_t n = fread(chunk, 1, 1 * MiB, f);
	assert_true(n > 0);
	assert_memory_equal(fx->ram + e.rip - 0x200, chunk, n);
	print_message("real kernel %s: protocol %#x, loaded at %#llx, init_size %u\n", path,
		      bp->hdr.version, (unsigned long long)(e.rip - 0x200), bp->hdr.init_size);
	free(chunk);
	fclose(f);
	free(initrd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(loads_kernel_and_fills_zero_page, test_setup),
		cmocka_unit_test_setup(header_length_follows_jump_byte, test_setup),
		cmocka_unit_test_setup(setup_sects_zero_means_four, test_setup),
		cmocka_unit_test_setup(payload_offset_follows_setup_sects, test_setup),
		cmocka_unit_test_setup(no_cmdline_no_initramfs, test_setup),
		cmocka_unit_test_setup(rsdp_only_from_protocol_2_14, test_setup),
		cmocka_unit_test_setup(e820_from_guest_memory_when_none_given, test_setup),
		cmocka_unit_test_setup(load_address_follows_protocol, test_setup),
		cmocka_unit_test_setup(initramfs_respects_initrd_addr_max, test_setup),
		cmocka_unit_test_setup(initramfs_fills_exactly_to_kernel_end, test_setup),
		cmocka_unit_test_setup(initramfs_stays_below_2g, test_setup),
		cmocka_unit_test_setup(cmdline_limits, test_setup),
		cmocka_unit_test_setup(refuses_bad_images, test_setup),
		cmocka_unit_test_setup(refuses_unreadable_files, test_setup),
		cmocka_unit_test_setup(loads_real_kernel, test_setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
