/* Pieces both kernel loaders need: reading a file with a one-line error,
 * writing the command line, placing the initramfs as high as allowed and
 * getting the memory map to report. Internal to src/loader. */
#ifndef ALIOTH_LOADER_LOAD_COMMON_H
#define ALIOTH_LOADER_LOAD_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/e820.h"
#include "mem/guest_mem.h"

/* read_file() that logs "<what> <path>: <reason>" on failure. */
int loader_read(const char *path, const char *what, uint8_t **data, size_t *len);

/* Writes `cmdline` (NULL = empty) NUL-terminated at X86_CMDLINE. Refuses a
 * line longer than `max_len` bytes (the kernel's limit, without the NUL) or
 * than X86_CMDLINE_MAX - 1; the error names `kernel_path`. */
int loader_put_cmdline(const struct guest_mem *gm, const char *kernel_path,
		       const char *cmdline, uint64_t max_len);

/* Reads the initramfs at `path` and copies it to the highest page-aligned
 * guest address `gpa` such that [gpa, gpa + size) lies in one RAM region,
 * gpa >= low and gpa + size <= high. */
int loader_put_initramfs(const struct guest_mem *gm, const char *path,
			 uint64_t low, uint64_t high, uint64_t *gpa, uint64_t *size);

/* The memory map to hand to the guest: `given` if set, else one RAM entry
 * per guest memory region. */
void loader_memory_map(const struct guest_mem *gm, const struct e820_map *given,
		       struct e820_map *out);

#endif
