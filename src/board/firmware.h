/* Board side of booting firmware (-f) and of the fw_cfg device: maps the
 * image read-only below 4 GiB (and copies its last 128 KiB to 0xE0000, as
 * the BIOS area appears once shadowed), adds the debug port 0x402 and
 * fw_cfg with the ACPI tables (etc/table-loader), e820, RAM size, CPU
 * count, the -k kernel and the --fw-cfg items. */
#ifndef ALIOTH_BOARD_FIRMWARE_H
#define ALIOTH_BOARD_FIRMWARE_H

struct machine;

#define FW_BIOS_ALIAS_MAX 0x20000ULL   /* 128 KiB at the top of the first MiB */
#define FW_MAX_SIZE       0x1000000ULL /* 16 MiB: stays above the LAPIC and IOAPIC */

/* Does nothing without -f and --fw-cfg. In firmware mode also sets the
 * boot entry (reset vector). Returns 0 or -errno, after logging why. */
int board_firmware_setup(struct machine *m);
/* After the vCPUs have stopped. */
void board_firmware_destroy(struct machine *m);

#endif
