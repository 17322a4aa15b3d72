#include "vtests.h"
#include "acpi.h"
#include "blkbench.h"
#include "netbench.h"
#include "bootinfo.h"
#include "irq.h"
#include "klib.h"
#include "net.h"
#include "serial.h"
#include "trap.h"
#include "virtio.h"

#define SECTOR            512
#define BLK_T_IN          0
#define BLK_T_OUT         1
#define BLK_T_FLUSH       4
#define BLK_T_GET_ID      8
#define BLK_S_OK          0
#define BLK_S_IOERR       1
#define BLK_F_RO          5
#define BLK_F_FLUSH       9
#define BLK_ID_BYTES      20
#define BLK_CFG_CAPACITY  0
#define BUF_SIZE          4096
#define PVPANIC_VENDOR    0x1B36
#define PVPANIC_DEVICE    0x0011
#define PVPANIC_PANICKED  0x1
#define ENTROPY_BYTES     64
#define FAR_PAST_RAM      0x7F00000000ULL  /* 508 GiB: no VMM here backs it */
#define GIB               (1ULL << 30)

struct vt {
	const char *name;
	const struct bootinfo *bi;
	const struct acpi_info *ai;
	struct pci_host host;
	int use_irq;
	uint64_t want;
};

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct vdev dev;
static struct blk_hdr hdr __attribute__((aligned(16)));
static volatile uint8_t status_byte __attribute__((aligned(16)));
static uint8_t buf[BUF_SIZE] __attribute__((aligned(4096)));
static uint8_t expect[BUF_SIZE] __attribute__((aligned(16)));

static int fail(const struct vt *t, const char *why)
{
	kprintf("FAIL %s: %s\n", t->name, why);
	return 0;
}

static int pass(const struct vt *t)
{
	kprintf("PASS %s\n", t->name);
	return 1;
}

static uint64_t arg_u64(const struct vt *t, const char *key, uint64_t dflt)
{
	uint64_t v;

	return cmdline_get_u64(t->bi->cmdline, key, &v) ? v : dflt;
}

/* Bytes the runner can recompute for any file offset (run-guest-test.py
 * pattern_bytes): one 32-bit little-endian word per 4 bytes of offset. */
static void pattern_fill(uint8_t *p, uint32_t len, uint32_t seed, uint64_t offset)
{
	for (uint32_t i = 0; i < len; i += 4) {
		uint32_t k = (uint32_t)((offset + i) / 4);
		uint32_t v = (seed ^ k) * 2654435761u;
		v ^= v >> 16;
		memcpy(p + i, &v, 4);
	}
}

static void vt_setup(struct vt *t, const char *name, const struct bootinfo *bi,
		     const struct acpi_info *ai, uint64_t device_features)
{
	t->name = name;
	t->bi = bi;
	t->ai = ai;
	t->use_irq = !cmdline_has_word(bi->cmdline, "vmode", "poll");
	t->want = device_features;
	if (cmdline_has_word(bi->cmdline, "vring", "packed"))
		t->want |= 1ULL << VIRTIO_F_RING_PACKED;
	if (cmdline_has_word(bi->cmdline, "vfeat", "indirect"))
		t->want |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	if (cmdline_has_word(bi->cmdline, "vfeat", "event_idx"))
		t->want |= 1ULL << VIRTIO_F_EVENT_IDX;
	pci_host_init(&t->host, ai->rsdp);
	pci_scan(&t->host, 0, 0);
	if (t->use_irq)
		irq_init();
}

static int vt_finish(int ok)
{
	irq_fini();
	return ok;
}

/* One block request: header, optional data, status. 1 if it completed;
 * *status is what the device wrote (0xFF if nothing). */
static int blk_io(uint32_t type, uint64_t sector, void *data, uint32_t len, uint8_t *status,
		  uint32_t *written)
{
	struct vbuf b[3];
	unsigned n = 0;

	hdr = (struct blk_hdr){ type, 0, sector };
	status_byte = 0xFF;
	b[n++] = (struct vbuf){ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), 0 };
	if (len)
		b[n++] = (struct vbuf){ (uint64_t)(uintptr_t)data, len, type != BLK_T_OUT };
	b[n++] = (struct vbuf){ (uint64_t)(uintptr_t)&status_byte, 1, 1 };
	int done = vq_transfer(&dev, b, n, written);
	*status = status_byte;
	return done;
}

static const char *blk_expect_ok(uint32_t type, uint64_t sector, void *data, uint32_t len)
{
	uint8_t status;
	uint32_t written;

	if (!blk_io(type, sector, data, len, &status, &written))
		return "a request did not complete";
	if (status != BLK_S_OK) {
		kprintf("blk: request type %u sector %lu len %u: status %u\n", type, sector, len, status);
		return "a request did not return VIRTIO_BLK_S_OK";
	}
	return 0;
}

static const char *blk_start(struct vt *t)
{
	const char *err = vdev_probe(&dev, &t->host, VIRTIO_ID_BLOCK, "blk");

	return err ? err : vdev_start(&dev, t->want, t->use_irq);
}

static const char *blk_check_crc(uint64_t sector, uint32_t len, uint64_t want)
{
	const char *err = blk_expect_ok(BLK_T_IN, sector, buf, len);

	if (err)
		return err;
	uint32_t crc = crc32(buf, len);
	kprintf("blk: read sectors %lu+%u crc32 0x%08x\n", sector, len / SECTOR, crc);
	return crc == want ? 0 : "data read differs from the file's (crc32)";
}

static const char *blk_capacity(struct vt *t, uint64_t *cap)
{
	if (!dev.devcfg)
		return "virtio-blk has no device configuration capability";
	*cap = vdev_cfg_read(&dev, BLK_CFG_CAPACITY, 8);
	kprintf("blk: capacity %lu sectors\n", *cap);
	return *cap == arg_u64(t, "blk_sectors", 0) ? 0 : "capacity differs from the file size / 512";
}

static const char *blk_get_id(void)
{
	char id[BLK_ID_BYTES + 1];
	const char *err;

	memset(buf, 0, BLK_ID_BYTES);
	if ((err = blk_expect_ok(BLK_T_GET_ID, 0, buf, BLK_ID_BYTES)))
		return err;
	memcpy(id, buf, BLK_ID_BYTES);
	id[BLK_ID_BYTES] = 0;
	kprintf("blk: GET_ID \"%s\"\n", id);
	if (!id[0])
		return "GET_ID returned an empty string";
	for (const char *c = id; *c; c++)
		if (*c < 0x20 || *c > 0x7E)
			return "GET_ID returned unprintable bytes";
	return 0;
}

static const char *blk_out_of_range(uint64_t cap)
{
	uint8_t status;
	uint32_t written;

	if (!blk_io(BLK_T_IN, cap, buf, SECTOR, &status, &written))
		return "a read past the end did not complete";
	kprintf("blk: read at sector %lu (capacity): status %u\n", cap, status);
	return status == BLK_S_IOERR ? 0 : "a read past the end did not return VIRTIO_BLK_S_IOERR";
}

/* Writes the pattern one sector per request (many requests: the rings
 * wrap), flushes, reads it back. */
static const char *blk_write_pattern(uint64_t sector, uint32_t sectors, uint32_t seed)
{
	const char *err;

	for (uint32_t i = 0; i < sectors; i++) {
		pattern_fill(buf, SECTOR, seed, (sector + i) * SECTOR);
		if ((err = blk_expect_ok(BLK_T_OUT, sector + i, buf, SECTOR)))
			return err;
	}
	if ((err = blk_expect_ok(BLK_T_FLUSH, 0, 0, 0)))
		return err;
	pattern_fill(expect, sectors * SECTOR, seed, sector * SECTOR);
	memset(buf, 0, sectors * SECTOR);
	if ((err = blk_expect_ok(BLK_T_IN, sector, buf, sectors * SECTOR)))
		return err;
	return memcmp(buf, expect, sectors * SECTOR) ? "read-back differs from what was written" : 0;
}

static int check_blk(const struct bootinfo *bi, const struct acpi_info *ai)
{
	struct vt t;
	uint64_t cap, wsector;
	const char *err;

	vt_setup(&t, "blk", bi, ai, 1ULL << BLK_F_FLUSH);
	wsector = arg_u64(&t, "wsector", 16);
	if ((err = blk_start(&t)))
		return vt_finish(fail(&t, err));
	if (!(dev.features & (1ULL << BLK_F_FLUSH)))
		return vt_finish(fail(&t, "VIRTIO_BLK_F_FLUSH not offered"));
	if ((err = blk_capacity(&t, &cap)) ||
	    (err = blk_check_crc(0, BUF_SIZE, arg_u64(&t, "blk_crc0", 0))) ||
	    (err = blk_check_crc(cap - 1, SECTOR, arg_u64(&t, "blk_crc_last", 0))) ||
	    (err = blk_get_id()) || (err = blk_out_of_range(cap)) ||
	    (err = blk_write_pattern(wsector, 8, (uint32_t)arg_u64(&t, "wseed", 1))))
		return vt_finish(fail(&t, err));
	kprintf("blk: queue vector 0x%x took %lu interrupts\n", vdev_queue_vector(&dev),
		t.use_irq ? irq_count(vdev_queue_vector(&dev)) : 0);
	vdev_reset(&dev);
	return vt_finish(pass(&t));
}

static int check_blk_ro(const struct bootinfo *bi, const struct acpi_info *ai)
{
	struct vt t;
	uint8_t status;
	uint32_t written;
	const char *err;

	vt_setup(&t, "blk-ro", bi, ai, 1ULL << BLK_F_RO);
	if ((err = blk_start(&t)))
		return vt_finish(fail(&t, err));
	kprintf("blk-ro: VIRTIO_BLK_F_RO %s\n", dev.offered & (1ULL << BLK_F_RO) ? "offered" : "absent");
	if (!(dev.offered & (1ULL << BLK_F_RO)))
		return vt_finish(fail(&t, "a read-only disk does not offer VIRTIO_BLK_F_RO"));
	if ((err = blk_check_crc(0, BUF_SIZE, arg_u64(&t, "blk_crc0", 0))))
		return vt_finish(fail(&t, err));
	/* a driver would honour RO; this one writes anyway: the device must refuse */
	pattern_fill(buf, SECTOR, 0xBAD, 0);
	if (!blk_io(BLK_T_OUT, 0, buf, SECTOR, &status, &written))
		return vt_finish(fail(&t, "the refused write did not complete"));
	kprintf("blk-ro: write to sector 0: status %u\n", status);
	if (status != BLK_S_IOERR)
		return vt_finish(fail(&t, "a write to a read-only disk did not return VIRTIO_BLK_S_IOERR"));
	if ((err = blk_check_crc(0, BUF_SIZE, arg_u64(&t, "blk_crc0", 0))))
		return vt_finish(fail(&t, err));
	vdev_reset(&dev);
	return vt_finish(pass(&t));
}

/* Everything acknowledged before FLUSHED must survive a SIGKILL of the VMM
 * right after that line: the runner kills it and reads the file. */
static int check_blk_durable(const struct bootinfo *bi, const struct acpi_info *ai)
{
	struct vt t;
	const char *err;

	vt_setup(&t, "blk-durable", bi, ai, 1ULL << BLK_F_FLUSH);
	uint64_t sector = arg_u64(&t, "wsector", 16), count = arg_u64(&t, "wsectors", 64);
	uint32_t seed = (uint32_t)arg_u64(&t, "wseed", 1);
	if ((err = blk_start(&t)))
		return vt_finish(fail(&t, err));
	for (uint64_t s = sector; s < sector + count; s += BUF_SIZE / SECTOR) {
		pattern_fill(buf, BUF_SIZE, seed, s * SECTOR);
		if ((err = blk_expect_ok(BLK_T_OUT, s, buf, BUF_SIZE)))
			return vt_finish(fail(&t, err));
	}
	if ((err = blk_expect_ok(BLK_T_FLUSH, 0, 0, 0)))
		return vt_finish(fail(&t, err));
	kprintf("FLUSHED sectors %lu+%lu\n", sector, count);
	halt_forever();
}

/* One rule-breaking request: the device must set NEEDS_RESET and keep the
 * VMM alive; after a reset a normal read works again. */
static const char *hostile_case(struct vt *t, const char *what, void (*submit)(struct vt *t))
{
	const char *err;
	uint64_t cfg_irqs = t->use_irq ? irq_count(vdev_queue_vector(&dev) - 1) : 0;

	if ((err = vdev_start(&dev, t->want, t->use_irq)))
		return err;
	submit(t);
	int needs_reset = vdev_wait_needs_reset(&dev);
	kprintf("blk-hostile: %s: status 0x%02x, config interrupts %lu\n", what, vdev_status(&dev),
		t->use_irq ? irq_count(vdev_queue_vector(&dev) - 1) - cfg_irqs : 0);
	if (!needs_reset)
		return "the device did not set NEEDS_RESET";
	if ((err = vdev_start(&dev, t->want, t->use_irq)))
		return err;
	return blk_check_crc(0, BUF_SIZE, arg_u64(t, "blk_crc0", 0));
}

static void submit_far_past_ram(struct vt *t)
{
	struct vbuf b[3] = {
		{ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), 0 },
		{ FAR_PAST_RAM, SECTOR, 1 },
		{ (uint64_t)(uintptr_t)&status_byte, 1, 1 },
	};

	(void)t;
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	vq_submit(&dev, b, 3);
}

/* Starts in the last RAM page and runs past the end of RAM. */
static void submit_across_ram_end(struct vt *t)
{
	uint64_t top = bootinfo_ram_top(t->bi);
	struct vbuf b[3] = {
		{ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), 0 },
		{ top - SECTOR / 2, SECTOR, 1 },
		{ (uint64_t)(uintptr_t)&status_byte, 1, 1 },
	};

	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	vq_submit(&dev, b, 3);
}

static void submit_loop(struct vt *t)
{
	(void)t;
	vq_submit_loop(&dev);
}

static void submit_avail_jump(struct vt *t)
{
	(void)t;
	vq_submit_avail_jump(&dev);
}

static int check_blk_hostile(const struct bootinfo *bi, const struct acpi_info *ai)
{
	static const struct {
		const char *key, *what;
		void (*submit)(struct vt *t);
		int split_only;
	} cases[] = {
		{ "far", "data descriptor far past RAM", submit_far_past_ram, 0 },
		{ "edge", "data descriptor across the end of RAM", submit_across_ram_end, 0 },
		{ "loop", "descriptor loop 0 -> 1 -> 0", submit_loop, 1 },
		{ "jump", "avail idx jumps by queue size + 1", submit_avail_jump, 1 },
	};
	const char *sel;
	uint64_t sel_len;
	/* hostile=far,edge,loop,jump picks cases (default all): QEMU, for one,
	 * bounce-buffers DMA to unbacked addresses instead of refusing it */
	int all = !cmdline_get(bi->cmdline, "hostile", &sel, &sel_len);
	struct vt t;
	const char *err;
	unsigned ran = 0;

	vt_setup(&t, "blk-hostile", bi, ai, 0);
	if ((err = blk_start(&t)))
		return vt_finish(fail(&t, err));
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if ((cases[i].split_only && dev.packed) ||
		    !(all || cmdline_has_word(bi->cmdline, "hostile", cases[i].key)))
			continue;
		ran++;
		kprintf("blk-hostile: %s\n", cases[i].what);
		if ((err = hostile_case(&t, cases[i].what, cases[i].submit))) {
			kprintf("FAIL blk-hostile: %s: %s\n", cases[i].what, err);
			vdev_reset(&dev);
			return vt_finish(0);
		}
	}
	vdev_reset(&dev);
	if (!ran)
		return vt_finish(fail(&t, "no hostile case applies to this ring (hostile=)"));
	return vt_finish(pass(&t));
}

static const char *entropy_sample(uint8_t *out)
{
	uint32_t got = 0, len;

	for (int tries = 0; got < ENTROPY_BYTES && tries < 16; tries++) {
		struct vbuf b = { (uint64_t)(uintptr_t)buf, ENTROPY_BYTES - got, 1 };
		if (!vq_transfer(&dev, &b, 1, &len))
			return "an entropy request did not complete";
		if (len > ENTROPY_BYTES - got)
			return "the device reported more bytes than the buffer holds";
		memcpy(out + got, buf, len);
		got += len;
	}
	return got == ENTROPY_BYTES ? 0 : "the device kept returning too few bytes";
}

static int all_zero(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int check_entropy(const struct bootinfo *bi, const struct acpi_info *ai)
{
	static uint8_t a[ENTROPY_BYTES], b[ENTROPY_BYTES];
	struct vt t;
	const char *err;

	vt_setup(&t, "entropy", bi, ai, 0);
	if ((err = vdev_probe(&dev, &t.host, VIRTIO_ID_ENTROPY, "entropy")) ||
	    (err = vdev_start(&dev, t.want, t.use_irq)) || (err = entropy_sample(a)) ||
	    (err = entropy_sample(b)))
		return vt_finish(fail(&t, err));
	kprintf("entropy: crc32 0x%08x 0x%08x\n", crc32(a, sizeof(a)), crc32(b, sizeof(b)));
	vdev_reset(&dev);
	if (all_zero(a, sizeof(a)) || all_zero(b, sizeof(b)))
		return vt_finish(fail(&t, "a sample is all zero"));
	if (!memcmp(a, b, sizeof(a)))
		return vt_finish(fail(&t, "two samples are identical"));
	return vt_finish(pass(&t));
}

static int check_pvpanic(const struct bootinfo *bi, const struct acpi_info *ai)
{
	struct vt t = { .name = "pvpanic", .bi = bi, .ai = ai };
	struct pci_fn f;

	pci_host_init(&t.host, ai->rsdp);
	if (!pci_find(&t.host, PVPANIC_VENDOR, PVPANIC_DEVICE, &f))
		return fail(&t, "no pvpanic PCI function (1b36:0011) on bus 0");
	uint64_t bar = pci_bar_addr(&f, 0);
	volatile uint8_t *reg = pci_map_mmio(bar, 1);
	if (!bar || pci_bar_is_io(&f, 0) || !reg)
		return fail(&t, "pvpanic BAR0 is not an assigned memory BAR");
	kprintf("pvpanic: capabilities 0x%02x\n", *reg);
	kprintf("PVPANIC 00:%02x.0 bar0 0x%lx write 0x%x\n", f.dev, bar, PVPANIC_PANICKED);
	*reg = PVPANIC_PANICKED;
	spin_cycles(5000000000ULL);
	return fail(&t, "still running after the pvpanic PANICKED write");
}

static const struct {
	const char *name;
	int (*run)(const struct bootinfo *bi, const struct acpi_info *ai);
} vchecks[] = {
	{ "blk", check_blk },
	{ "blk-ro", check_blk_ro },
	{ "blk-durable", check_blk_durable },
	{ "blk-hostile", check_blk_hostile },
	{ "entropy", check_entropy },
	{ "pvpanic", check_pvpanic },
	{ "net", check_net },
	{ "blkbench", check_blkbench },
	{ "netbench", check_netbench },
};

unsigned vtests_run(const struct bootinfo *bi, const struct acpi_info *ai)
{
	unsigned ran = 0;

	for (unsigned i = 0; i < sizeof(vchecks) / sizeof(vchecks[0]); i++) {
		if (cmdline_has_word(bi->cmdline, "test", vchecks[i].name)) {
			ran++;
			vchecks[i].run(bi, ai);
		}
	}
	return ran;
}
