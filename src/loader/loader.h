/* Kernel loaders: put a bzImage (Linux x86 boot protocol, 64-bit entry) or a
 * PVH ELF into guest memory with its command line, initramfs and boot
 * information, and say how the boot vCPU must start. Errors are logged as
 * one line naming the file and the problem; functions return 0 or -1. */
#ifndef ALIOTH_LOADER_LOADER_H
#define ALIOTH_LOADER_LOADER_H

#include <stdint.h>

#include "arch/x86/e820.h"
#include "mem/guest_mem.h"

enum boot_mode {
	BOOT_LINUX64,   /* 64-bit long mode, paging on (identity map), RSI = zero page */
	BOOT_PVH32,     /* 32-bit protected mode, paging off, EBX = hvm_start_info */
	BOOT_RESET,     /* real mode at the reset vector (firmware) */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rsi;   /* BOOT_LINUX64: zero page address */
	uint64_t rbx;   /* BOOT_PVH32: hvm_start_info address */
};

struct boot_input {
	const char *kernel_path;     /* bzImage or PVH ELF */
	const char *cmdline;         /* may be NULL */
	const char *initramfs_path;  /* may be NULL */
	const struct e820_map *e820;
	uint64_t rsdp_addr;          /* 0 if none */
};

int load_bzimage(struct guest_mem *gm, const struct boot_input *in, struct boot_entry *out);
int load_pvh(struct guest_mem *gm, const struct boot_input *in, struct boot_entry *out);

/* Firmware (-f): the whole image, page-aligned (it becomes a read-only KVM
 * memory slot ending at 4 GiB); its size must be a multiple of 4 KiB. The
 * boot vCPU then starts at the reset vector. */
struct firmware_image {
	uint8_t *data;   /* mmap'ed; release with firmware_image_free */
	uint64_t size;
};

int load_firmware(const char *path, struct firmware_image *out, struct boot_entry *entry);
void firmware_image_free(struct firmware_image *fw);

/* A bzImage split for a firmware that boots it through fw_cfg, as QEMU does
 * for -kernel: the setup sectors (header patched with the command line,
 * initramfs and heap as QEMU patches them), the protected-mode part, and
 * the guest addresses QEMU suggests for each (the *_ADDR items). */
struct fw_kernel {
	uint8_t *setup, *kernel, *initrd;   /* heap; initrd NULL if none */
	uint64_t setup_size, kernel_size, initrd_size;
	char *cmdline;                      /* heap, NUL-terminated */
	uint64_t cmdline_size;              /* including the NUL */
	uint32_t setup_addr, kernel_addr, initrd_addr, cmdline_addr;
};

/* ram_below_4g: RAM from address 0 (bounds the initramfs address). */
int load_fw_kernel(const struct boot_input *in, uint64_t ram_below_4g, struct fw_kernel *out);
void fw_kernel_free(struct fw_kernel *k);

#endif
