/* The test firmware's checks, in 32-bit protected mode: fw_cfg signature and
 * ID by port I/O, the file directory, the ACPI tables installed by running
 * etc/table-loader (checksums verified afterwards), an opt/ item by DMA,
 * then the -k kernel loaded from fw_cfg and entered at its 32-bit entry.
 * Reports on COM1 ("FW PASS name" / "FW FAIL name: why") and one line on
 * the debug port 0x402. No libc, no .data (the image is read-only). */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define COM1          0x3F8
#define DEBUG_PORT    0x402
#define FW_SEL        0x510
#define FW_DATA       0x511
#define FW_DMA_HI     0x514
#define FW_DMA_LO     0x518

#define KEY_SIGNATURE   0x00
#define KEY_ID          0x01
#define KEY_KERNEL_ADDR 0x07
#define KEY_KERNEL_SIZE 0x08
#define KEY_INITRD_ADDR 0x0a
#define KEY_INITRD_SIZE 0x0b
#define KEY_KERNEL_DATA 0x11
#define KEY_INITRD_DATA 0x12
#define KEY_CMDLINE_ADDR 0x13
#define KEY_CMDLINE_SIZE 0x14
#define KEY_CMDLINE_DATA 0x15
#define KEY_SETUP_SIZE  0x17
#define KEY_SETUP_DATA  0x18
#define KEY_FILE_DIR    0x19

#define DMA_ERROR  0x01
#define DMA_READ   0x02
#define DMA_SELECT 0x08

/* Where this firmware puts things (all in the guest's reserved ranges). */
#define ZERO_PAGE   0x7000     /* the GDT is at 0x500 (reset.S) */
#define FSEG_BASE   0xF0000    /* RSDP; the BIOS-area copy is RAM */
#define HIGH_BASE   0x80000    /* ACPI tables, reserved for the guest */
#define HIGH_END    0xA0000
#define SETUP_BUF   0x50000    /* the kernel's setup sectors, read to copy the header */
#define MAX_FILES   32
#define NAME_SIZE   56

struct file {
	u32 size;
	u16 key;
	char name[NAME_SIZE];
	u32 addr; /* after ALLOCATE */
};

static struct file files[MAX_FILES];
static unsigned nr_files;
static unsigned failures;
static volatile u32 dma_desc[4] __attribute__((aligned(16)));

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void put_char(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (u8)c);
}

static void puts_(const char *s)
{
	while (*s)
		put_char(*s++);
}

static void put_hex(u32 v)
{
	puts_("0x");
	for (int i = 28; i >= 0; i -= 4)
		put_char("0123456789abcdef"[(v >> i) & 0xf]);
}

static void put_dec(u32 v)
{
	char b[11];
	int i = 10;
	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_(b + i);
}

static void debug_puts(const char *s)
{
	while (*s)
		outb(DEBUG_PORT, (u8)*s++);
}

static void pass(const char *name)
{
	puts_("FW PASS ");
	puts_(name);
	puts_("\n");
}

static void fail(const char *name, const char *why)
{
	failures++;
	puts_("FW FAIL ");
	puts_(name);
	puts_(": ");
	puts_(why);
	puts_("\n");
}

static void mem_set(void *d, u8 v, u32 n)
{
	u8 *p = d;
	while (n--)
		*p++ = v;
}

static void mem_copy(void *d, const void *s, u32 n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--)
		*p++ = *q++;
}

/* The compiler may call these for structure copies and initialisers. */
void *memset(void *d, int v, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

void *memset(void *d, int v, unsigned long n)
{
	mem_set(d, (u8)v, (u32)n);
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	mem_copy(d, s, (u32)n);
	return d;
}

static int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static u32 be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static u32 le32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

static u32 bswap(u32 v)
{
	return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

static void port_read(u16 key, void *buf, u32 n)
{
	u8 *p = buf;
	outw(FW_SEL, key);
	while (n--)
		*p++ = inb(FW_DATA);
}

static u32 port_read32(u16 key)
{
	u8 b[4];
	port_read(key, b, 4);
	return le32(b);
}

/* Returns 0 or the error bit. */
static u32 dma_read(u16 key, void *buf, u32 n)
{
	dma_desc[0] = bswap((u32)key << 16 | DMA_SELECT | DMA_READ);
	dma_desc[1] = bswap(n);
	dma_desc[2] = 0;
	dma_desc[3] = bswap((u32)buf);
	outl(FW_DMA_HI, 0);
	outl(FW_DMA_LO, bswap((u32)dma_desc));
	return bswap(dma_desc[0]);
}

static struct file *find(const char *name)
{
	for (unsigned i = 0; i < nr_files; i++)
		if (str_eq(files[i].name, name))
			return &files[i];
	return 0;
}

static void check_signature(void)
{
	u8 sig[4];
	port_read(KEY_SIGNATURE, sig, 4);
	if (sig[0] != 'Q' || sig[1] != 'E' || sig[2] != 'M' || sig[3] != 'U')
		return fail("signature", "not QEMU");
	pass("signature");
	if ((port_read32(KEY_ID) & 3) != 3)
		return fail("id", "traditional and DMA interfaces not both offered");
	pass("id");
}

static void read_directory(void)
{
	u8 b[4];
	port_read(KEY_FILE_DIR, b, 4);
	u32 count = be32(b);
	for (u32 i = 0; i < count && nr_files < MAX_FILES; i++) {
		u8 e[64];
		for (int j = 0; j < 64; j++)
			e[j] = inb(FW_DATA);
		struct file *f = &files[nr_files++];
		f->size = be32(e);
		f->key = (u16)(e[4] << 8 | e[5]);
		mem_copy(f->name, e + 8, NAME_SIZE);
		f->name[NAME_SIZE - 1] = 0;
	}
	puts_("FW dir:");
	for (unsigned i = 0; i < nr_files; i++) {
		puts_(" ");
		puts_(files[i].name);
	}
	puts_("\n");
	if (count == 0 || count != nr_files)
		return fail("dir", "empty or too long");
	pass("dir");
}

static u8 sum(const u8 *p, u32 n)
{
	u8 s = 0;
	while (n--)
		s = (u8)(s + *p++);
	return s;
}

/* Loader commands, 128 bytes each (QEMU's bios-linker-loader). */
static int run_allocate(const u8 *c, u32 *fseg, u32 *high)
{
	struct file *f = find((const char *)c + 4);
	u32 align = le32(c + 60);
	u8 zone = c[64];
	if (!f || align == 0 || (align & (align - 1)))
		return -1;
	u32 *next = zone == 2 ? fseg : high;
	u32 addr = (*next + align - 1) & ~(align - 1);
	if (addr + f->size > (zone == 2 ? 0x100000u : HIGH_END))
		return -1;
	if (dma_read(f->key, (void *)addr, f->size))
		return -1;
	f->addr = addr;
	*next = addr + f->size;
	return 0;
}

static int run_pointer(const u8 *c)
{
	struct file *dst = find((const char *)c + 4), *src = find((const char *)c + 60);
	u32 off = le32(c + 116);
	u8 size = c[120];
	if (!dst || !src || !dst->addr || !src->addr || size != 8 || off + 8 > dst->size)
		return -1;
	u8 *p = (u8 *)(dst->addr + off);
	u64 v = (u64)le32(p) | (u64)le32(p + 4) << 32;
	v += src->addr;
	for (int i = 0; i < 8; i++)
		p[i] = (u8)(v >> (8 * i));
	return 0;
}

static int run_checksum(const u8 *c)
{
	struct file *f = find((const char *)c + 4);
	u32 at = le32(c + 60), start = le32(c + 64), len = le32(c + 68);
	if (!f || !f->addr || at >= f->size || start > f->size || len > f->size - start)
		return -1;
	u8 *base = (u8 *)f->addr;
	base[at] = (u8)(base[at] - sum(base + start, len));
	return 0;
}

static u32 rsdp_addr;

static int run_loader(void)
{
	static u8 loader[4096];
	struct file *l = find("etc/table-loader");
	if (!l || l->size % 128 || l->size > sizeof(loader))
		return -1;
	if (dma_read(l->key, loader, l->size))
		return -1;
	u32 fseg = FSEG_BASE, high = HIGH_BASE;
	for (u32 off = 0; off < l->size; off += 128) {
		const u8 *c = loader + off;
		int err = 0;
		switch (le32(c)) {
		case 1: err = run_allocate(c, &fseg, &high); break;
		case 2: err = run_pointer(c); break;
		case 3: err = run_checksum(c); break;
		default: err = -1;
		}
		if (err) {
			puts_("FW loader command failed at ");
			put_dec(off / 128);
			puts_("\n");
			return -1;
		}
	}
	struct file *r = find("etc/acpi/rsdp");
	rsdp_addr = r ? r->addr : 0;
	return 0;
}

static int table_ok(u32 addr, const char *sig)
{
	const u8 *t = (const u8 *)addr;
	if (sig && (t[0] != sig[0] || t[1] != sig[1] || t[2] != sig[2] || t[3] != sig[3]))
		return 0;
	return sum(t, le32(t + 4)) == 0;
}

static void check_acpi(void)
{
	if (run_loader())
		return fail("acpi", "etc/table-loader could not be applied");
	const u8 *r = (const u8 *)rsdp_addr;
	if (!rsdp_addr || sum(r, 20) || sum(r, 36))
		return fail("acpi", "RSDP checksum");
	if (le32(r + 28))
		return fail("acpi", "XSDT above 4 GiB");
	u32 xsdt = le32(r + 24);
	if (!table_ok(xsdt, "XSDT"))
		return fail("acpi", "XSDT checksum");
	u32 n = (le32((const u8 *)xsdt + 4) - 36) / 8;
	for (u32 i = 0; i < n; i++) {
		u32 t = le32((const u8 *)xsdt + 36 + 8 * i);
		if (!table_ok(t, 0))
			return fail("acpi", "a table's checksum");
		if (table_ok(t, "FACP") && !table_ok(le32((const u8 *)t + 140), "DSDT"))
			return fail("acpi", "DSDT (from FADT X_DSDT) checksum");
	}
	puts_("FW acpi: RSDP at ");
	put_hex(rsdp_addr);
	puts_(", ");
	put_dec(n);
	puts_(" tables in the XSDT\n");
	pass("acpi");
}

static void check_dma_item(void)
{
	static u8 buf[16];
	struct file *f = find("opt/test");
	if (!f)
		return fail("dma-item", "opt/test not in the directory");
	mem_set(buf, 0xAA, sizeof(buf));
	if (f->size != 5 || dma_read(f->key, buf, f->size))
		return fail("dma-item", "size or DMA error");
	if (buf[0] != 'h' || buf[4] != 'o' || buf[5] != 0xAA)
		return fail("dma-item", "wrong bytes");
	/* a hostile buffer (past the end of RAM) must report the error bit */
	if (dma_read(f->key, (void *)0xFEFF0000, 5) != DMA_ERROR)
		return fail("dma-item", "no error bit for a buffer outside RAM");
	pass("dma-item");
}

/* Zero page e820: RAM from etc/e820, minus what this firmware and the
 * BIOS area keep: [0x80000, 1 MiB) reserved. */
static void build_e820(u8 *zp)
{
	static u8 e820[20 * 8];
	struct file *f = find("etc/e820");
	u32 n = 0;
	u8 *out = zp + 0x2d0;
	if (!f || f->size > sizeof(e820) || dma_read(f->key, e820, f->size))
		return;
	for (u32 i = 0; i < f->size / 20; i++) {
		const u8 *e = e820 + 20 * i;
		u64 addr = (u64)le32(e) | (u64)le32(e + 4) << 32;
		u64 len = (u64)le32(e + 8) | (u64)le32(e + 12) << 32;
		u64 ranges[3][3] = { { addr, len, 1 } };
		u32 nr = 1;
		if (addr == 0 && len > 0x100000) {
			ranges[0][1] = HIGH_BASE;
			ranges[1][0] = HIGH_BASE;
			ranges[1][1] = 0x100000 - HIGH_BASE;
			ranges[1][2] = 2;
			ranges[2][0] = 0x100000;
			ranges[2][1] = len - 0x100000;
			ranges[2][2] = 1;
			nr = 3;
		}
		for (u32 j = 0; j < nr; j++, n++) {
			for (int b = 0; b < 8; b++) {
				out[20 * n + b] = (u8)(ranges[j][0] >> (8 * b));
				out[20 * n + 8 + b] = (u8)(ranges[j][1] >> (8 * b));
			}
			out[20 * n + 16] = (u8)ranges[j][2];
		}
	}
	zp[0x1e8] = (u8)n;
}

extern void enter_kernel32(u32 entry, u32 zero_page) __attribute__((noreturn));

static void boot_kernel(void)
{
	u32 ksize = port_read32(KEY_KERNEL_SIZE);
	if (!ksize) {
		puts_("FW no kernel\n");
		return;
	}
	u32 kaddr = port_read32(KEY_KERNEL_ADDR);
	u32 setup_size = port_read32(KEY_SETUP_SIZE);
	u32 cmd_addr = port_read32(KEY_CMDLINE_ADDR), cmd_size = port_read32(KEY_CMDLINE_SIZE);
	u32 initrd_addr = port_read32(KEY_INITRD_ADDR), initrd_size = port_read32(KEY_INITRD_SIZE);
	u8 *setup = (u8 *)SETUP_BUF;
	u8 *zp = (u8 *)ZERO_PAGE;
	if (setup_size > 0x8000 || dma_read(KEY_SETUP_DATA, setup, setup_size) ||
	    dma_read(KEY_KERNEL_DATA, (void *)kaddr, ksize) ||
	    (cmd_size && dma_read(KEY_CMDLINE_DATA, (void *)cmd_addr, cmd_size)) ||
	    (initrd_size && dma_read(KEY_INITRD_DATA, (void *)initrd_addr, initrd_size)))
		return fail("kernel", "DMA of the kernel items failed");
	mem_set(zp, 0, 4096);
	/* the setup header runs from 0x1f1 to 0x202 + the jump's offset byte */
	u32 hdr_end = 0x202 + setup[0x201];
	mem_copy(zp + 0x1f1, setup + 0x1f1, hdr_end - 0x1f1);
	zp[0x70] = (u8)rsdp_addr; /* acpi_rsdp_addr */
	zp[0x71] = (u8)(rsdp_addr >> 8);
	zp[0x72] = (u8)(rsdp_addr >> 16);
	zp[0x73] = (u8)(rsdp_addr >> 24);
	build_e820(zp);
	puts_("FW BOOT kernel at ");
	put_hex(kaddr);
	puts_(", ");
	put_dec(ksize);
	puts_(" bytes, command line ");
	put_dec(cmd_size);
	puts_(" bytes, initramfs ");
	put_dec(initrd_size);
	puts_(" bytes\n");
	enter_kernel32(kaddr, ZERO_PAGE);
}

void fw_main(void)
{
	debug_puts("fwtest: hello from the test firmware\n");
	puts_("FW start\n");
	check_signature();
	read_directory();
	check_acpi();
	check_dma_item();
	if (failures) {
		puts_("FW FAIL summary: ");
		put_dec(failures);
		puts_(" check(s) failed\n");
	}
	boot_kernel();
	puts_("FW END\n");
	/* ACPI S5 as the board's FADT describes it (sleep control 0x600). */
	outb(0x600, (u8)(5 << 2 | 1 << 5));
	for (;;)
		__asm__ volatile("cli; hlt");
}
