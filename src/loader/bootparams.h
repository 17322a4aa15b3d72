/* The Linux x86 boot protocol's "zero page" (struct boot_params) and the
 * setup header inside it, laid out byte for byte as in the kernel's
 * Documentation/arch/x86/boot.rst and zero-page.rst. Offsets are absolute
 * within the 4 KiB page, which is also where the header sits in a bzImage. */
#ifndef ALIOTH_LOADER_BOOTPARAMS_H
#define ALIOTH_LOADER_BOOTPARAMS_H

#include <stddef.h>
#include <stdint.h>

#define BP_BOOT_FLAG_MAGIC   0xAA55
#define BP_HEADER_MAGIC      0x53726448u /* "HdrS" */
#define BP_SETUP_HEADER_OFF  0x1F1
#define BP_JUMP_OFF          0x200       /* end of header = 0x202 + byte at 0x201 */
#define BP_E820_MAX          128

/* loadflags */
#define BP_LOADED_HIGH       0x01
#define BP_CAN_USE_HEAP      0x80
/* xloadflags */
#define BP_XLF_KERNEL_64     0x0001

#define BP_LOADER_UNDEFINED  0xFF        /* type_of_loader for loaders without an ID */

struct setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct boot_params {
	uint8_t screen_info[64];
	uint8_t apm_bios_info[20];
	uint8_t _pad2[4];
	uint64_t tboot_addr;
	uint8_t ist_info[16];
	uint64_t acpi_rsdp_addr;
	uint8_t _pad3[8];
	uint8_t hd0_info[16];
	uint8_t hd1_info[16];
	uint8_t sys_desc_table[16];
	uint8_t olpc_ofw_header[16];
	uint32_t ext_ramdisk_image;
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t _pad4[112];
	uint32_t cc_blob_address;
	uint8_t edid_info[128];
	uint8_t efi_info[32];
	uint32_t alt_mem_k;
	uint32_t scratch;
	uint8_t e820_entries;
	uint8_t eddbuf_entries;
	uint8_t edd_mbr_sig_buf_entries;
	uint8_t kbd_status;
	uint8_t secure_boot;
	uint8_t _pad5[2];
	uint8_t sentinel;
	uint8_t _pad6[1];
	struct setup_header hdr;
	uint8_t _pad7[0x290 - 0x1F1 - sizeof(struct setup_header)];
	uint32_t edd_mbr_sig_buffer[16];
	struct boot_e820_entry e820_table[BP_E820_MAX];
	uint8_t _pad8[48];
	uint8_t eddbuf[492];
	uint8_t _pad9[276];
} __attribute__((packed));

_Static_assert(sizeof(struct boot_params) == 4096, "zero page is one page");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0C0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0C8, "ext_cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1E8, "e820_entries");
_Static_assert(offsetof(struct boot_params, sentinel) == 0x1EF, "sentinel");
_Static_assert(offsetof(struct boot_params, hdr) == BP_SETUP_HEADER_OFF, "hdr");
_Static_assert(offsetof(struct boot_params, hdr.jump) == BP_JUMP_OFF, "jump");
_Static_assert(offsetof(struct boot_params, hdr.header) == 0x202, "HdrS");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, hdr.pref_address) == 0x258, "pref_address");
_Static_assert(offsetof(struct boot_params, hdr.init_size) == 0x260, "init_size");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2D0, "e820_table");

#endif
