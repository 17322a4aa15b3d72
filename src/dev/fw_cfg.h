/* QEMU's firmware configuration device (fw_cfg) at ports 0x510-0x51B: a
 * 16-bit selector, a byte-wide data port with auto-advance, and the DMA
 * interface (descriptor address written big-endian to 0x514/0x518). Holds
 * the well-known items below 0x20 and named files from 0x20 on, listed in
 * FW_CFG_FILE_DIR in the order they were added. Thread-safe. */
#ifndef ALIOTH_DEV_FW_CFG_H
#define ALIOTH_DEV_FW_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/bus.h"
#include "mem/guest_mem.h"

#define PORT_FW_CFG_SELECTOR 0x510
#define FW_CFG_NR_PORTS      12   /* selector, data, DMA high (0x514), DMA low (0x518) */

/* Well-known selectors (QEMU docs/specs/fw_cfg.rst). */
#define FW_CFG_SIGNATURE     0x00
#define FW_CFG_ID            0x01
#define FW_CFG_RAM_SIZE      0x03
#define FW_CFG_NB_CPUS       0x05
#define FW_CFG_KERNEL_ADDR   0x07
#define FW_CFG_KERNEL_SIZE   0x08
#define FW_CFG_KERNEL_CMDLINE 0x09
#define FW_CFG_INITRD_ADDR   0x0a
#define FW_CFG_INITRD_SIZE   0x0b
#define FW_CFG_MAX_CPUS      0x0f
#define FW_CFG_KERNEL_DATA   0x11
#define FW_CFG_INITRD_DATA   0x12
#define FW_CFG_CMDLINE_ADDR  0x13
#define FW_CFG_CMDLINE_SIZE  0x14
#define FW_CFG_CMDLINE_DATA  0x15
#define FW_CFG_SETUP_ADDR    0x16
#define FW_CFG_SETUP_SIZE    0x17
#define FW_CFG_SETUP_DATA    0x18
#define FW_CFG_FILE_DIR      0x19
#define FW_CFG_FILE_FIRST    0x20

#define FW_CFG_ID_TRADITIONAL 0x01
#define FW_CFG_ID_DMA         0x02

/* DMA descriptor control bits; the selector goes in bits 16-31. */
#define FW_CFG_DMA_ERROR  0x01
#define FW_CFG_DMA_READ   0x02
#define FW_CFG_DMA_SKIP   0x04
#define FW_CFG_DMA_SELECT 0x08
#define FW_CFG_DMA_WRITE  0x10

#define FW_CFG_NAME_SIZE  56   /* including the NUL: names have at most 55 bytes */
#define FW_CFG_DIR_ENTRY_SIZE 64
#define FW_CFG_MAX_FILES  64

struct fw_cfg;

/* Register at PORT_FW_CFG_SELECTOR with FW_CFG_NR_PORTS ports. */
extern const struct io_ops fw_cfg_io_ops;

/* DMA goes through gm (kept, not owned). Signature, ID and an empty file
 * directory are present from the start. */
struct fw_cfg *fw_cfg_create(const struct guest_mem *gm);
void fw_cfg_destroy(struct fw_cfg *fw);

/* Sets a well-known item (key < FW_CFG_FILE_FIRST) to a copy of data.
 * Returns 0 or -EINVAL for a key outside that range. */
int fw_cfg_set(struct fw_cfg *fw, uint16_t key, const void *data, size_t len);
int fw_cfg_set_u16(struct fw_cfg *fw, uint16_t key, uint16_t v);  /* little-endian */
int fw_cfg_set_u32(struct fw_cfg *fw, uint16_t key, uint32_t v);
int fw_cfg_set_u64(struct fw_cfg *fw, uint16_t key, uint64_t v);
/* As fw_cfg_set, but takes ownership of data (malloc'ed). */
int fw_cfg_set_owned(struct fw_cfg *fw, uint16_t key, uint8_t *data, size_t len);

/* Adds a named file with the next free selector (returned in *key if not
 * NULL). writable: DMA writes may change its bytes (never its size).
 * Returns 0, -EEXIST (name taken), -ENAMETOOLONG (over 55 bytes), -EINVAL
 * (empty name, or larger than 4 GiB) or -ENOSPC. */
int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, size_t len,
		    bool writable, uint16_t *key);
/* As fw_cfg_add_file, taking ownership of data (malloc'ed) even on failure. */
int fw_cfg_add_file_owned(struct fw_cfg *fw, const char *name, uint8_t *data, size_t len,
			  bool writable, uint16_t *key);

#endif
