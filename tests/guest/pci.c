#include "pci.h"
#include "klib.h"
#include "paging.h"
#include "serial.h"

#define CF8_ADDR        0xCF8
#define CF8_DATA        0xCFC
#define CF8_ENABLE      0x80000000u
#define ECAM_DEV_SHIFT  15
#define ACPI_HDR_LEN    36
#define MCFG_ENTRIES    (ACPI_HDR_LEN + 8)
#define MCFG_ENTRY_LEN  16
#define PCI_VENDOR_NONE 0xFFFF
#define PCI_STATUS_CAPS 0x10
#define PCI_BAR0        0x10
#define PCI_BAR_IO      0x1
#define PCI_BAR_TYPE64  0x4
#define PCI_SUBSYS_ID   0x2E
#define PCI_CAP_PTR     0x34

#define PTE_P   0x1ULL
#define PTE_W   0x2ULL
#define PTE_PWT 0x8ULL
#define PTE_PCD 0x10ULL
#define PTE_PS  0x80ULL
#define GIB     (1ULL << 30)
#define MMIO_PDS 8

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static int sig_is(uint64_t table, const char *sig)
{
	return !memcmp((const void *)(uintptr_t)table, sig, 4);
}

static uint32_t table_len(uint64_t table)
{
	return *(const uint32_t *)(uintptr_t)(table + 4);
}

/* The MCFG among the XSDT's (or RSDT's) entries; 0 if absent. */
static uint64_t find_mcfg(uint64_t rsdp)
{
	const uint8_t *r = (const uint8_t *)(uintptr_t)rsdp;
	uint64_t xsdt = 0, rsdt = *(const uint32_t *)(r + 16);

	if (r[15] >= 2)
		memcpy(&xsdt, r + 24, 8);
	uint64_t sdt = xsdt ? xsdt : rsdt;
	unsigned esize = xsdt ? 8 : 4;
	if (!sdt)
		return 0;
	for (uint64_t p = sdt + ACPI_HDR_LEN; p + esize <= sdt + table_len(sdt); p += esize) {
		uint64_t t = 0;
		memcpy(&t, (const void *)(uintptr_t)p, esize);
		if (t && sig_is(t, "MCFG"))
			return t;
	}
	return 0;
}

void pci_host_init(struct pci_host *h, uint64_t rsdp)
{
	uint64_t mcfg = rsdp ? find_mcfg(rsdp) : 0;

	h->ecam = 0;
	h->bus_start = 0;
	if (mcfg && table_len(mcfg) >= MCFG_ENTRIES + MCFG_ENTRY_LEN) {
		const uint8_t *e = (const uint8_t *)(uintptr_t)(mcfg + MCFG_ENTRIES);
		uint16_t segment;
		memcpy(&h->ecam, e, 8);
		memcpy(&segment, e + 8, 2);
		h->bus_start = e[10];
		kprintf("pci: MCFG ecam 0x%lx segment %u buses %u-%u\n", h->ecam, segment, e[10], e[11]);
		if (segment != 0 || h->bus_start != 0 || !pci_map_mmio(h->ecam, 1 << 20))
			h->ecam = 0;
	}
	if (!h->ecam)
		kprintf("pci: no usable MCFG, config space through ports 0xCF8/0xCFC\n");
}

static volatile void *ecam_ptr(const struct pci_fn *f, unsigned off)
{
	return (volatile void *)(uintptr_t)(f->host->ecam + ((uint64_t)f->dev << ECAM_DEV_SHIFT) + off);
}

static void cf8_select(const struct pci_fn *f, unsigned off)
{
	outl(CF8_ADDR, CF8_ENABLE | (uint32_t)f->dev << 11 | (off & 0xFC));
}

uint32_t pci_read(const struct pci_fn *f, unsigned off, unsigned size)
{
	if (f->host->ecam) {
		if (size == 1)
			return *(volatile uint8_t *)ecam_ptr(f, off);
		if (size == 2)
			return *(volatile uint16_t *)ecam_ptr(f, off);
		return *(volatile uint32_t *)ecam_ptr(f, off);
	}
	cf8_select(f, off);
	if (size == 1)
		return inb((uint16_t)(CF8_DATA + (off & 3)));
	if (size == 2)
		return inw((uint16_t)(CF8_DATA + (off & 2)));
	return inl(CF8_DATA);
}

void pci_write(const struct pci_fn *f, unsigned off, unsigned size, uint32_t val)
{
	if (f->host->ecam) {
		if (size == 1)
			*(volatile uint8_t *)ecam_ptr(f, off) = (uint8_t)val;
		else if (size == 2)
			*(volatile uint16_t *)ecam_ptr(f, off) = (uint16_t)val;
		else
			*(volatile uint32_t *)ecam_ptr(f, off) = val;
		return;
	}
	cf8_select(f, off);
	if (size == 1)
		outb((uint16_t)(CF8_DATA + (off & 3)), (uint8_t)val);
	else if (size == 2)
		outw((uint16_t)(CF8_DATA + (off & 2)), (uint16_t)val);
	else
		outl(CF8_DATA, val);
}

static int pci_probe(const struct pci_host *h, uint8_t dev, struct pci_fn *out)
{
	*out = (struct pci_fn){ .host = h, .dev = dev };
	out->vendor = (uint16_t)pci_read(out, 0, 2);
	if (out->vendor == PCI_VENDOR_NONE || out->vendor == 0)
		return 0;
	out->device = (uint16_t)pci_read(out, 2, 2);
	out->subclass = (uint8_t)pci_read(out, 0x0A, 1);
	out->class_code = (uint8_t)pci_read(out, 0x0B, 1);
	out->subsys_device = (uint16_t)pci_read(out, PCI_SUBSYS_ID, 2);
	return 1;
}

unsigned pci_scan(const struct pci_host *h, struct pci_fn *fns, unsigned cap)
{
	unsigned n = 0;

	for (uint8_t dev = 0; dev < 32; dev++) {
		struct pci_fn f;
		if (!pci_probe(h, dev, &f))
			continue;
		kprintf("pci: 00:%02x.0 %04x:%04x class %02x%02x\n", dev, f.vendor, f.device,
			f.class_code, f.subclass);
		if (n < cap)
			fns[n++] = f;
	}
	return n;
}

int pci_find(const struct pci_host *h, uint16_t vendor, uint16_t device, struct pci_fn *out)
{
	for (uint8_t dev = 0; dev < 32; dev++)
		if (pci_probe(h, dev, out) && out->vendor == vendor && out->device == device)
			return 1;
	return 0;
}

int pci_bar_is_io(const struct pci_fn *f, unsigned i)
{
	return pci_read(f, PCI_BAR0 + 4 * i, 4) & PCI_BAR_IO;
}

uint64_t pci_bar_addr(const struct pci_fn *f, unsigned i)
{
	uint32_t lo = pci_read(f, PCI_BAR0 + 4 * i, 4);

	if (lo & PCI_BAR_IO)
		return lo & ~3u;
	uint64_t addr = lo & ~0xFu;
	if ((lo & 0x6) == PCI_BAR_TYPE64 && i < 5)
		addr |= (uint64_t)pci_read(f, PCI_BAR0 + 4 * (i + 1), 4) << 32;
	return addr;
}

unsigned pci_find_cap(const struct pci_fn *f, uint8_t id, unsigned from)
{
	if (!(pci_read(f, 0x06, 2) & PCI_STATUS_CAPS))
		return 0;
	unsigned pos = from ? pci_read(f, from + 1, 1) : pci_read(f, PCI_CAP_PTR, 1);
	/* a looping list must not hang the guest: at most 48 capabilities fit */
	for (int guard = 0; pos >= 0x40 && guard < 48; guard++) {
		pos &= ~3u;
		if (pci_read(f, pos, 1) == id)
			return pos;
		pos = pci_read(f, pos + 1, 1);
	}
	return 0;
}

volatile void *pci_map_mmio(uint64_t addr, uint64_t size)
{
	static uint64_t pds[MMIO_PDS][512] __attribute__((aligned(4096)));
	static unsigned used;
	uint64_t *pml4 = (uint64_t *)(uintptr_t)paging_cr3();
	uint64_t *pdpt = (uint64_t *)(uintptr_t)(pml4[0] & ~0xFFFULL);

	if (!size || addr + size > 512 * GIB)
		return 0;
	for (uint64_t g = addr / GIB; g <= (addr + size - 1) / GIB; g++) {
		if (pdpt[g] & PTE_P)
			continue;
		if (used == MMIO_PDS)
			return 0;
		uint64_t *pd = pds[used++];
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g * GIB + (i << 21)) | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
		pdpt[g] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_W;
	}
	__asm__ volatile("mov %0, %%cr3" : : "r"(paging_cr3()) : "memory");
	return (volatile void *)(uintptr_t)addr;
}
