/* bzImage loader: Linux x86 boot protocol >= 2.12, entered at the 64-bit
 * entry point (load address + 0x200) with RSI pointing at the zero page. */
#include "loader/loader.h"

#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "loader/bootparams.h"
#include "loader/load_common.h"
#include "util/log.h"
#include "util/util.h"

#define MIN_PROTOCOL      0x020c /* 2.12: 64-bit entry and XLF_KERNEL_64 */
#define RSDP_PROTOCOL     0x020e /* 2.14: acpi_rsdp_addr */
#define HDR_END_MAX       (BP_SETUP_HEADER_OFF + sizeof(struct setup_header))
#define HDR_END_MIN       0x264  /* we read up to init_size */
#define SECTOR            512
/* No real-mode setup code runs, so the heap end is only a formality; this
 * is what a loader that puts setup at 0x90000 would report. */
#define HEAP_END          0xFE00
#define DEFAULT_ALIGN     (2 * MiB)

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

/* Checks the signatures, protocol version and 64-bit support, and copies
 * the setup header (as long as the file says it is) into bp->hdr. */
static int read_setup_header(const char *path, const uint8_t *img, size_t len,
			     struct boot_params *bp)
{
	if (len < 0x206 || le16(img + 0x1FE) != BP_BOOT_FLAG_MAGIC ||
	    le32(img + 0x202) != BP_HEADER_MAGIC) {
		log_error("kernel %s: not a bzImage (no boot sector signature or HdrS header)",
			  path);
		return -1;
	}
	uint16_t version = le16(img + 0x206);
	if (version < MIN_PROTOCOL) {
		log_error("kernel %s: boot protocol %u.%02u is too old, 2.12 or later needed",
			  path, version >> 8, version & 0xFF);
		return -1;
	}
	size_t hdr_end = BP_JUMP_OFF + 2 + img[BP_JUMP_OFF + 1];
	if (hdr_end < HDR_END_MIN || hdr_end > len) {
		log_error("kernel %s: setup header truncated (ends at %#zx, file has %zu bytes)",
			  path, hdr_end, len);
		return -1;
	}
	memcpy(&bp->hdr, img + BP_SETUP_HEADER_OFF,
	       MIN(hdr_end, HDR_END_MAX) - BP_SETUP_HEADER_OFF);
	if (!(bp->hdr.xloadflags & BP_XLF_KERNEL_64)) {
		log_error("kernel %s: no 64-bit entry point (XLF_KERNEL_64 not set)", path);
		return -1;
	}
	if (!(bp->hdr.loadflags & BP_LOADED_HIGH)) {
		log_error("kernel %s: not a bzImage (zImage loaded low)", path);
		return -1;
	}
	/* Old kernels left 0 here to mean 4. */
	if (bp->hdr.setup_sects == 0)
		bp->hdr.setup_sects = 4;
	return 0;
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint64_t kernel_alignment(const struct setup_header *h)
{
	if (is_pow2(h->kernel_alignment))
		return h->kernel_alignment;
	if (h->min_alignment < 31)
		return 1ULL << h->min_alignment;
	return DEFAULT_ALIGN;
}

/* Where the protected-mode kernel goes: a non-relocatable kernel wants
 * 1 MiB (code32_start's default); a relocatable one its pref_address when
 * that is aligned and fits, else X86_KERNEL_START rounded up to its
 * alignment. `footprint` is what must be free from there on. */
static uint64_t choose_load_addr(const struct guest_mem *gm, const struct setup_header *h,
				 uint64_t footprint)
{
	if (!h->relocatable_kernel)
		return X86_HIGHMEM_START;
	uint64_t align = kernel_alignment(h);
	uint64_t pref = h->pref_address;
	if (pref >= X86_HIGHMEM_START && pref % align == 0 && gm_ptr(gm, pref, footprint))
		return pref;
	return ALIGN_UP(X86_KERNEL_START, align);
}

static void fill_e820(struct boot_params *bp, const struct guest_mem *gm,
		      const struct e820_map *given)
{
	struct e820_map map;

	loader_memory_map(gm, given, &map);
	for (unsigned i = 0; i < map.nr && i < BP_E820_MAX; i++)
		bp->e820_table[i] = (struct boot_e820_entry){
			.addr = map.entry[i].addr,
			.size = map.entry[i].size,
			.type = map.entry[i].type,
		};
	bp->e820_entries = (uint8_t)MIN(map.nr, (unsigned)BP_E820_MAX);
}

static int load_initramfs(struct guest_mem *gm, const char *path, uint64_t kernel_end,
			  struct boot_params *bp)
{
	uint64_t high = MIN((uint64_t)bp->hdr.initrd_addr_max + 1, X86_RAM32_END);
	uint64_t gpa, size;

	if (loader_put_initramfs(gm, path, kernel_end, high, &gpa, &size) < 0)
		return -1;
	bp->hdr.ramdisk_image = (uint32_t)gpa;
	bp->ext_ramdisk_image = (uint32_t)(gpa >> 32);
	bp->hdr.ramdisk_size = (uint32_t)size;
	bp->ext_ramdisk_size = (uint32_t)(size >> 32);
	return 0;
}

/* Everything after the file is validated: places the pieces and fills the
 * zero page. */
static int place_kernel(struct guest_mem *gm, const struct boot_input *in,
			const uint8_t *img, size_t len, struct boot_params *bp,
			struct boot_entry *out)
{
	const char *path = in->kernel_path;
	uint64_t pm_off = (uint64_t)(bp->hdr.setup_sects + 1) * SECTOR;

	if (pm_off >= len || len - pm_off < (uint64_t)bp->hdr.syssize * 16) {
		log_error("kernel %s: truncated (%zu bytes, setup %llu and kernel %llu bytes expected)",
			  path, len, (unsigned long long)pm_off,
			  (unsigned long long)bp->hdr.syssize * 16);
		return -1;
	}
	uint64_t pm_size = len - pm_off;
	uint64_t footprint = MAX(pm_size, (uint64_t)bp->hdr.init_size);
	uint64_t load_addr = choose_load_addr(gm, &bp->hdr, footprint);
	void *dst = gm_ptr(gm, load_addr, footprint);
	if (!dst) {
		log_error("kernel %s: needs %llu MiB of RAM from %#llx, guest memory is too small",
			  path, (unsigned long long)((footprint + MiB - 1) / MiB),
			  (unsigned long long)load_addr);
		return -1;
	}
	if (loader_put_cmdline(gm, path, in->cmdline, bp->hdr.cmdline_size) < 0)
		return -1;
	memcpy(dst, img + pm_off, pm_size);
	log_info("kernel %s loaded at %#llx, %llu bytes", path, (unsigned long long)load_addr,
		 (unsigned long long)pm_size);

	if (in->initramfs_path &&
	    load_initramfs(gm, in->initramfs_path, load_addr + footprint, bp) < 0)
		return -1;

	bp->hdr.type_of_loader = BP_LOADER_UNDEFINED;
	bp->hdr.loadflags |= BP_CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = HEAP_END;
	bp->hdr.code32_start = (uint32_t)load_addr;
	bp->hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE;
	bp->ext_cmd_line_ptr = (uint32_t)(X86_CMDLINE >> 32);
	if (bp->hdr.version >= RSDP_PROTOCOL)
		bp->acpi_rsdp_addr = in->rsdp_addr;
	fill_e820(bp, gm, in->e820);
	if (!gm_write(gm, X86_ZERO_PAGE, bp, sizeof(*bp))) {
		log_error("kernel %s: no guest RAM for the zero page", path);
		return -1;
	}
	*out = (struct boot_entry){
		.mode = BOOT_LINUX64,
		.rip = load_addr + 0x200,
		.rsi = X86_ZERO_PAGE,
	};
	return 0;
}

int load_bzimage(struct guest_mem *gm, const struct boot_input *in, struct boot_entry *out)
{
	struct boot_params *bp = xcalloc(1, sizeof(*bp));
	uint8_t *img;
	size_t len;
	int ret = -1;

	if (loader_read(in->kernel_path, "kernel", &img, &len) < 0)
		goto out;
	if (read_setup_header(in->kernel_path, img, len, bp) == 0)
		ret = place_kernel(gm, in, img, len, bp, out);
	free(img);
out:
	free(bp);
	return ret;
}
