/* The x86_64 guest physical address map and fixed I/O ports.
 * RAM sits below 2 GiB and continues at 4 GiB; [2 GiB, 4 GiB) holds PCI
 * windows, ECAM, the IOAPIC and LAPIC (same shape as Alioth's board). */
#ifndef ALIOTH_ARCH_X86_LAYOUT_H
#define ALIOTH_ARCH_X86_LAYOUT_H

/* Low memory, all inside the first RAM region. */
#define X86_BOOT_GDT          0x500ULL    /* boot GDT, 4 entries */
#define X86_BOOT_IDT          0x520ULL    /* empty IDT */
#define X86_PVH_START_INFO    0x6000ULL   /* hvm_start_info + modlist + memmap, 4 KiB */
#define X86_ZERO_PAGE         0x7000ULL   /* Linux boot_params, 4 KiB */
#define X86_BOOT_PML4         0x9000ULL   /* identity map of 0..4 GiB with 2 MiB pages: */
#define X86_BOOT_PDPT         0xA000ULL   /*   PML4, PDPT and 4 page directories, */
#define X86_BOOT_PD           0xB000ULL   /*   0x9000..0xF000 */
#define X86_BOOT_STACK_TOP    0x8FF0ULL   /* PVH entry stack (below the tables) */
#define X86_CMDLINE           0x20000ULL  /* kernel command line */
#define X86_CMDLINE_MAX       0x10000ULL  /* 64 KiB including the NUL */
#define X86_EBDA_START        0x80000ULL  /* reserved in e820 */
#define X86_LOWMEM_END        0xA0000ULL  /* VGA hole starts */
#define X86_ACPI_START        0xE0000ULL  /* RSDP first (BIOS scan area), tables after */
#define X86_ACPI_END          0x100000ULL /* reserved in e820 up to here */
#define X86_RESET_STUB        0xFFFF0ULL  /* F000:FFF0: reset code for BIOS-style reboots */
#define X86_HIGHMEM_START     0x100000ULL /* 1 MiB */
#define X86_KERNEL_START      0x1000000ULL /* 16 MiB: bzImage/PVH default load address */

#define X86_RAM32_END         0x80000000ULL  /* 2 GiB */
#define X86_PCI_MMIO32_START  0x80000000ULL  /* 2 GiB .. 3 GiB: 32-bit BARs */
#define X86_PCI_MMIO32_END    0xC0000000ULL
#define X86_MMIO32_START      0xC0000000ULL  /* 3 GiB .. 3.5 GiB: platform MMIO */
#define X86_MMIO32_END        0xE0000000ULL
#define X86_PCI_ECAM_START    0xE0000000ULL  /* 256 MiB ECAM (buses 0..255) */
#define X86_PCI_ECAM_END      0xF0000000ULL
#define X86_IOAPIC_BASE       0xFEC00000ULL
#define X86_LAPIC_BASE        0xFEE00000ULL
#define X86_FIRMWARE_END      0x100000000ULL /* firmware is mapped just below 4 GiB */
#define X86_RAM64_START       0x100000000ULL /* 4 GiB */

#define X86_IDENTITY_MAP_END  0x100000000ULL /* boot page tables cover 0..4 GiB */

/* Fixed ports. */
#define PORT_POST             0x80
#define PORT_I8042_DATA       0x60
#define PORT_I8042_CMD        0x64
#define PORT_CMOS_INDEX       0x70
#define PORT_CMOS_DATA        0x71
#define PORT_COM1             0x3F8
#define COM1_IRQ              4
#define PORT_FW_DEBUG         0x402
#define PORT_ACPI_SLEEP_CTL   0x600
#define PORT_ACPI_SLEEP_STS   0x601
#define PORT_ACPI_RESET       0x604
#define ACPI_RESET_VALUE      'r'
#define PORT_ACPI_PM_TIMER    0x608
#define PORT_PCI_CONFIG_ADDR  0xCF8
#define PORT_PCI_CONFIG_DATA  0xCFC

#define IOAPIC_NR_PINS        24

#endif
