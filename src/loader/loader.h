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

#endif
