/* Firmware images and the fw_cfg form of a bzImage (QEMU's -kernel path in
 * hw/i386/x86.c: same addresses, same header patches). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "loader/load_common.h"
#include "loader/loader.h"
#include "util/log.h"
#include "util/util.h"

#define PAGE_SIZE        4096u
#define SECTOR           512u
#define HDR_MAGIC        0x53726448u /* "HdrS" */
#define OFF_SETUP_SECTS  0x1f1
#define OFF_MAGIC        0x202
#define OFF_VERSION      0x206
#define OFF_LOADER_TYPE  0x210
#define OFF_LOADFLAGS    0x211
#define OFF_RAMDISK      0x218
#define OFF_RAMDISK_SIZE 0x21c
#define OFF_HEAP_END     0x224
#define OFF_CMDLINE_PTR  0x228
#define OFF_INITRD_MAX   0x22c
#define OFF_CMDLINE_SIZE 0x238
#define HDR_END          0x240
#define CAN_USE_HEAP     0x80
#define LOADER_QEMU      0xb0   /* what QEMU writes, so guests see a familiar loader */

/* QEMU's choices for a protocol >= 2.02 kernel loaded high. */
#define REAL_ADDR        0x10000u
#define CMDLINE_ADDR     0x20000u
#define PROT_ADDR        0x100000u
#define ACPI_DATA_SIZE   0x20000u  /* kept free below the top of low RAM */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int load_firmware(const char *path, struct firmware_image *out, struct boot_entry *entry)
{
	uint8_t *file;
	size_t len;
	memset(out, 0, sizeof(*out));
	if (loader_read(path, "firmware", &file, &len))
		return -1;
	if (len == 0 || len % PAGE_SIZE) {
		log_error("firmware %s: size %zu is not a non-zero multiple of 4 KiB", path, len);
		free(file);
		return -1;
	}
	/* KVM memory slots need page-aligned host memory. */
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_error("firmware %s: cannot map %zu bytes: %s", path, len, strerror(errno));
		free(file);
		return -1;
	}
	memcpy(p, file, len);
	free(file);
	out->data = p;
	out->size = len;
	*entry = (struct boot_entry){ .mode = BOOT_RESET };
	return 0;
}

void firmware_image_free(struct firmware_image *fw)
{
	if (fw->data)
		munmap(fw->data, fw->size);
	fw->data = NULL;
	fw->size = 0;
}

void fw_kernel_free(struct fw_kernel *k)
{
	free(k->setup);
	free(k->kernel);
	free(k->initrd);
	free(k->cmdline);
	memset(k, 0, sizeof(*k));
}

static int split_bzimage(const char *path, uint8_t *img, size_t len, struct fw_kernel *k)
{
	if (len < HDR_END || rd32(img + OFF_MAGIC) != HDR_MAGIC) {
		log_error("kernel %s: not a bzImage (no HdrS header)", path);
		return -1;
	}
	unsigned version = img[OFF_VERSION] | img[OFF_VERSION + 1] << 8;
	if (version < 0x206) {
		log_error("kernel %s: boot protocol %u.%02u is too old, 2.06 or later needed", path,
			  version >> 8, version & 0xff);
		return -1;
	}
	unsigned sects = img[OFF_SETUP_SECTS] ? img[OFF_SETUP_SECTS] : 4;
	size_t setup_size = (size_t)(sects + 1) * SECTOR;
	if (setup_size >= len) {
		log_error("kernel %s: truncated (%zu bytes, setup alone is %zu)", path, len, setup_size);
		return -1;
	}
	k->setup = xmalloc(setup_size);
	memcpy(k->setup, img, setup_size);
	k->setup_size = setup_size;
	k->kernel_size = len - setup_size;
	k->kernel = xmalloc(k->kernel_size);
	memcpy(k->kernel, img + setup_size, k->kernel_size);
	k->setup_addr = REAL_ADDR;
	k->kernel_addr = PROT_ADDR;
	return 0;
}

static int put_cmdline(const char *path, const char *cmdline, struct fw_kernel *k)
{
	const char *line = cmdline ? cmdline : "";
	size_t max = rd32(k->setup + OFF_CMDLINE_SIZE);
	if (strlen(line) > max) {
		log_error("kernel %s: command line of %zu bytes exceeds the kernel's %zu", path,
			  strlen(line), max);
		return -1;
	}
	k->cmdline = xstrdup(line);
	k->cmdline_size = strlen(line) + 1;
	k->cmdline_addr = CMDLINE_ADDR;
	wr32(k->setup + OFF_CMDLINE_PTR, CMDLINE_ADDR);
	k->setup[OFF_LOADER_TYPE] = LOADER_QEMU;
	k->setup[OFF_LOADFLAGS] |= CAN_USE_HEAP;
	uint16_t heap_end = (uint16_t)(CMDLINE_ADDR - REAL_ADDR - 0x200);
	k->setup[OFF_HEAP_END] = (uint8_t)heap_end;
	k->setup[OFF_HEAP_END + 1] = (uint8_t)(heap_end >> 8);
	return 0;
}

/* Page-aligned, as high as the kernel allows, below the top of low RAM
 * minus room QEMU keeps for firmware ACPI data. */
static int put_initrd(const char *path, uint64_t ram_below_4g, struct fw_kernel *k)
{
	size_t size;
	if (loader_read(path, "initramfs", &k->initrd, &size))
		return -1;
	k->initrd_size = size;
	uint64_t max = rd32(k->setup + OFF_INITRD_MAX);
	if (max >= ram_below_4g - ACPI_DATA_SIZE)
		max = ram_below_4g - ACPI_DATA_SIZE - 1;
	if (size > max || max - size < PROT_ADDR + k->kernel_size) {
		log_error("initramfs %s: %zu bytes do not fit below %#llx", path, size,
			  (unsigned long long)max);
		return -1;
	}
	k->initrd_addr = (uint32_t)ALIGN_DOWN(max - size, (uint64_t)PAGE_SIZE);
	wr32(k->setup + OFF_RAMDISK, k->initrd_addr);
	wr32(k->setup + OFF_RAMDISK_SIZE, (uint32_t)size);
	return 0;
}

int load_fw_kernel(const struct boot_input *in, uint64_t ram_below_4g, struct fw_kernel *out)
{
	uint8_t *img;
	size_t len;
	memset(out, 0, sizeof(*out));
	if (loader_read(in->kernel_path, "kernel", &img, &len))
		return -1;
	int err = split_bzimage(in->kernel_path, img, len, out);
	free(img);
	if (!err)
		err = put_cmdline(in->kernel_path, in->cmdline, out);
	if (!err && in->initramfs_path)
		err = put_initrd(in->initramfs_path, ram_below_4g, out);
	if (err)
		fw_kernel_free(out);
	return err;
}
