#include "board/firmware.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "board/board.h"
#include "dev/fw_cfg.h"
#include "dev/fw_debug.h"
#include "pci/bus.h"
#include "util/log.h"
#include "util/util.h"

/* etc/table-loader commands (QEMU hw/acpi/bios-linker-loader.c), 128 bytes
 * each, little-endian. */
#define LOADER_ENTRY_SIZE   128
#define LOADER_ALLOCATE     1
#define LOADER_ADD_POINTER  2
#define LOADER_ADD_CHECKSUM 3
#define ZONE_HIGH           1
#define ZONE_FSEG           2
#define ACPI_TABLES_MAX     (64 * KiB)

#define FILE_RSDP    "etc/acpi/rsdp"
#define FILE_TABLES  "etc/acpi/tables"
#define FILE_LOADER  "etc/table-loader"
#define FILE_E820    "etc/e820"

struct board_firmware {
	struct firmware_image image;
	struct fw_cfg *fw_cfg;
	struct fw_debug *debug;
};

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

struct loader {
	uint8_t *buf;
	size_t len;
};

static uint8_t *loader_entry(struct loader *l, uint32_t command)
{
	l->buf = realloc(l->buf, l->len + LOADER_ENTRY_SIZE);
	if (!l->buf)
		abort();
	uint8_t *e = l->buf + l->len;
	memset(e, 0, LOADER_ENTRY_SIZE);
	put_le32(e, command);
	l->len += LOADER_ENTRY_SIZE;
	return e;
}

static void loader_allocate(struct loader *l, const char *file, uint32_t align, uint8_t zone)
{
	uint8_t *e = loader_entry(l, LOADER_ALLOCATE);
	strncpy((char *)e + 4, file, FW_CFG_NAME_SIZE - 1);
	put_le32(e + 4 + FW_CFG_NAME_SIZE, align);
	e[8 + FW_CFG_NAME_SIZE] = zone;
}

static void loader_pointer(struct loader *l, const char *dst, const char *src, size_t off)
{
	uint8_t *e = loader_entry(l, LOADER_ADD_POINTER);
	strncpy((char *)e + 4, dst, FW_CFG_NAME_SIZE - 1);
	strncpy((char *)e + 4 + FW_CFG_NAME_SIZE, src, FW_CFG_NAME_SIZE - 1);
	put_le32(e + 4 + 2 * FW_CFG_NAME_SIZE, (uint32_t)off);
	e[8 + 2 * FW_CFG_NAME_SIZE] = 8;
}

static void loader_checksum(struct loader *l, const char *file, size_t at, size_t start,
			    size_t len)
{
	uint8_t *e = loader_entry(l, LOADER_ADD_CHECKSUM);
	strncpy((char *)e + 4, file, FW_CFG_NAME_SIZE - 1);
	put_le32(e + 4 + FW_CFG_NAME_SIZE, (uint32_t)at);
	put_le32(e + 8 + FW_CFG_NAME_SIZE, (uint32_t)start);
	put_le32(e + 12 + FW_CFG_NAME_SIZE, (uint32_t)len);
}

/* Pointers before checksums: the firmware recomputes each checksum over
 * the patched bytes. */
static void build_table_loader(struct loader *l, const struct acpi_loader_info *info)
{
	loader_allocate(l, FILE_RSDP, 16, ZONE_FSEG);
	loader_allocate(l, FILE_TABLES, 64, ZONE_HIGH);
	for (unsigned i = 0; i < info->nr_pointers; i++)
		loader_pointer(l, FILE_TABLES, FILE_TABLES, info->pointers[i]);
	for (unsigned i = 0; i < info->nr_checksums; i++)
		loader_checksum(l, FILE_TABLES, info->checksums[i].at, info->checksums[i].start,
				info->checksums[i].len);
	loader_pointer(l, FILE_RSDP, FILE_TABLES, ACPI_RSDP_XSDT_OFFSET);
	loader_checksum(l, FILE_RSDP, ACPI_RSDP_CSUM_V1, 0, 20);
	loader_checksum(l, FILE_RSDP, ACPI_RSDP_CSUM_V2, 0, ACPI_RSDP_SIZE);
}

static int add_acpi(struct machine *m, struct fw_cfg *fw)
{
	uint32_t *apic_ids = xcalloc(m->nr_vcpus, sizeof(uint32_t));
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		apic_ids[i] = x86_apic_id(&m->cfg->cpu, i);
	struct pci_host_info pci;
	if (m->pci)
		pci_bus_host_info(m->pci, &pci);
	struct acpi_config ac = {
		.nr_cpus = m->nr_vcpus, .apic_ids = apic_ids, .ioapic_base = X86_IOAPIC_BASE,
		.pci = m->pci ? &pci : NULL,
		.no_pic = m->kvm.split_irqchip,
	};
	uint8_t rsdp[ACPI_RSDP_SIZE];
	uint8_t *tables = xmalloc(ACPI_TABLES_MAX);
	struct acpi_loader_info info;
	bool fits = acpi_build_for_loader(&ac, rsdp, tables, ACPI_TABLES_MAX, &info);
	free(apic_ids);
	if (!fits) {
		free(tables);
		log_error("acpi: tables do not fit in %llu bytes", (unsigned long long)ACPI_TABLES_MAX);
		return -ENOSPC;
	}
	struct loader l = { NULL, 0 };
	build_table_loader(&l, &info);
	int err = fw_cfg_add_file(fw, FILE_RSDP, rsdp, sizeof(rsdp), false, NULL);
	if (!err)
		err = fw_cfg_add_file_owned(fw, FILE_TABLES, tables, info.tables_len, false, NULL);
	else
		free(tables);
	if (!err)
		err = fw_cfg_add_file_owned(fw, FILE_LOADER, l.buf, l.len, false, NULL);
	else
		free(l.buf);
	return err;
}

/* As QEMU gives it: RAM only; the firmware reserves its own areas. */
static int add_e820(struct machine *m, struct fw_cfg *fw)
{
	uint64_t size = m->cfg->mem.size;
	uint64_t low = MIN(size, X86_RAM32_END);
	uint8_t e[2 * 20];
	size_t n = 0;
	put_le64(e, 0);
	put_le64(e + 8, low);
	put_le32(e + 16, E820_RAM);
	n++;
	if (size > low) {
		put_le64(e + 20, X86_RAM64_START);
		put_le64(e + 28, size - low);
		put_le32(e + 36, E820_RAM);
		n++;
	}
	return fw_cfg_add_file(fw, FILE_E820, e, n * 20, false, NULL);
}

static int add_machine_items(struct machine *m, struct fw_cfg *fw)
{
	int err = fw_cfg_set_u64(fw, FW_CFG_RAM_SIZE, m->cfg->mem.size);
	if (!err)
		err = fw_cfg_set_u16(fw, FW_CFG_NB_CPUS, (uint16_t)m->nr_vcpus);
	if (!err)
		err = fw_cfg_set_u16(fw, FW_CFG_MAX_CPUS, (uint16_t)m->nr_vcpus);
	if (!err)
		err = add_acpi(m, fw);
	if (!err)
		err = add_e820(m, fw);
	return err;
}

static int set_blob(struct fw_cfg *fw, uint16_t addr_key, uint32_t addr, uint16_t size_key,
		    uint16_t data_key, uint8_t *data, uint64_t size)
{
	int err = fw_cfg_set_u32(fw, addr_key, addr);
	if (!err)
		err = fw_cfg_set_u32(fw, size_key, (uint32_t)size);
	if (!err)
		err = fw_cfg_set_owned(fw, data_key, data, size);
	else
		free(data);
	return err;
}

/* The fw_cfg takes the buffers over, so k is only freed of what is left. */
static int add_kernel(struct machine *m, struct fw_cfg *fw)
{
	const struct vm_config *cfg = m->cfg;
	struct boot_input in = {
		.kernel_path = cfg->kernel, .cmdline = cfg->cmdline,
		.initramfs_path = cfg->initramfs,
	};
	struct fw_kernel k;
	if (load_fw_kernel(&in, MIN(cfg->mem.size, X86_RAM32_END), &k))
		return -EINVAL;
	int err = set_blob(fw, FW_CFG_SETUP_ADDR, k.setup_addr, FW_CFG_SETUP_SIZE,
			   FW_CFG_SETUP_DATA, k.setup, k.setup_size);
	k.setup = NULL;
	if (!err)
		err = set_blob(fw, FW_CFG_KERNEL_ADDR, k.kernel_addr, FW_CFG_KERNEL_SIZE,
			       FW_CFG_KERNEL_DATA, k.kernel, k.kernel_size);
	k.kernel = err ? k.kernel : NULL;
	if (!err)
		err = set_blob(fw, FW_CFG_CMDLINE_ADDR, k.cmdline_addr, FW_CFG_CMDLINE_SIZE,
			       FW_CFG_CMDLINE_DATA, (uint8_t *)k.cmdline, k.cmdline_size);
	k.cmdline = err ? k.cmdline : NULL;
	if (!err && k.initrd) {
		err = set_blob(fw, FW_CFG_INITRD_ADDR, k.initrd_addr, FW_CFG_INITRD_SIZE,
			       FW_CFG_INITRD_DATA, k.initrd, k.initrd_size);
		k.initrd = NULL;
	}
	fw_kernel_free(&k);
	return err;
}

static int add_user_items(struct machine *m, struct fw_cfg *fw)
{
	const struct vm_config *cfg = m->cfg;
	for (unsigned i = 0; i < cfg->nr_fw_cfg; i++) {
		const struct fw_cfg_item_config *it = &cfg->fw_cfg[i];
		uint8_t *data;
		size_t len;
		if (it->file) {
			int err = read_file(it->file, &data, &len);
			if (err) {
				log_error("--fw-cfg %s: cannot read %s: %s", it->name, it->file,
					  strerror(-err));
				return err;
			}
		} else {
			len = strlen(it->string);
			data = (uint8_t *)xstrdup(it->string);
		}
		int err = fw_cfg_add_file_owned(fw, it->name, data, len, false, NULL);
		if (err) {
			log_error("--fw-cfg %s: cannot add the item: %s", it->name, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int add_pio(struct machine *m, uint16_t port, uint16_t len, const struct io_ops *ops,
		   void *dev, const char *name)
{
	int err = io_bus_add(&m->pio, port, len, ops, dev, name);
	if (err)
		log_error("board: cannot place %s at port %#x: it overlaps another device", name, port);
	return err;
}

/* Read-only slot ending at 4 GiB, plus the BIOS-area copy in RAM (a KVM slot
 * cannot overlap the RAM slot there; firmware such as SeaBIOS writes to
 * this area once it believes it shadowed, which a copy allows). */
static int map_firmware(struct machine *m, struct board_firmware *b)
{
	const struct firmware_image *img = &b->image;
	if (img->size > FW_MAX_SIZE) {
		log_error("firmware %s: %llu bytes is more than the %llu MiB below 4 GiB the "
			  "board leaves for it", m->cfg->firmware, (unsigned long long)img->size,
			  FW_MAX_SIZE >> 20);
		return -EINVAL;
	}
	int err = kvm_map_memory(&m->kvm, X86_FIRMWARE_END - img->size, img->size, img->data, true);
	if (err)
		return err;
	uint64_t alias = MIN(img->size, FW_BIOS_ALIAS_MAX);
	if (!gm_write(&m->mem, X86_HIGHMEM_START - alias, img->data + img->size - alias, alias)) {
		log_error("firmware: no guest RAM at %#llx for the BIOS area",
			  (unsigned long long)(X86_HIGHMEM_START - alias));
		return -EINVAL;
	}
	return 0;
}

static int setup_firmware_mode(struct machine *m, struct board_firmware *b)
{
	if (load_firmware(m->cfg->firmware, &b->image, &m->entry))
		return -EINVAL;
	int err = map_firmware(m, b);
	if (!err) {
		b->debug = fw_debug_create();
		err = add_pio(m, PORT_FW_DEBUG, 1, &fw_debug_io_ops, b->debug, "fw-debug");
	}
	if (!err)
		err = add_machine_items(m, b->fw_cfg);
	if (!err && m->cfg->kernel)
		err = add_kernel(m, b->fw_cfg);
	return err;
}

int board_firmware_setup(struct machine *m)
{
	if (!m->cfg->firmware && m->cfg->nr_fw_cfg == 0)
		return 0;
	struct board_firmware *b = xcalloc(1, sizeof(*b));
	m->fw = b;
	b->fw_cfg = fw_cfg_create(&m->mem);
	int err = add_pio(m, PORT_FW_CFG_SELECTOR, FW_CFG_NR_PORTS, &fw_cfg_io_ops, b->fw_cfg,
			  "fw_cfg");
	if (!err && m->cfg->firmware)
		err = setup_firmware_mode(m, b);
	if (!err)
		err = add_user_items(m, b->fw_cfg);
	return err;
}

void board_firmware_destroy(struct machine *m)
{
	struct board_firmware *b = m->fw;
	if (!b)
		return;
	fw_cfg_destroy(b->fw_cfg);
	fw_debug_destroy(b->debug);
	firmware_image_free(&b->image);
	free(b);
	m->fw = NULL;
}
