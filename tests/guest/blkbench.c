#include "blkbench.h"
#include "acpi.h"
#include "bootinfo.h"
#include "irq.h"
#include "klib.h"
#include "serial.h"
#include "virtio.h"
#include "virtio_regs.h"

#define SECTOR          512
#define BLK_T_IN        0
#define BLK_S_OK        0
#define BB_QD_MAX       VQ_MAX          /* one indirect descriptor per request */
#define BB_BS_MAX       (256u << 10)
#define BB_DEF_BS       (128u << 10)
#define BB_DEF_RBS      4096u
#define BB_DEF_ROPS     8192u
#define BB_MAX_DEPTHS   4
#define USED_F_NO_NOTIFY 1
#define WAIT_CYCLES     20000000000ULL  /* a request stuck this long is lost */
#define TAG_MUL         0x9E3779B97F4A7C15ULL

/* A disk made by bench/blkbench_disk.py: the first 8 bytes of every sector
 * are tag(sector), so any request's data can be checked where it lands. */
static uint64_t tag(uint64_t seed, uint64_t sector)
{
	return (sector * TAG_MUL) ^ seed;
}

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

/* Request i always uses descriptor i (an indirect table of three) and its
 * own buffers, so up to the queue size of requests can be outstanding. */
struct slot {
	struct vring_desc ind[3];
	struct blk_hdr hdr;
	volatile uint8_t status;
	uint32_t len;
} __attribute__((aligned(64)));

struct phase {
	const char *name;     /* seq | rand */
	unsigned qd;
	uint32_t bs;
	uint64_t ops;
	uint64_t span;        /* sectors the offsets are drawn from */
};

struct bench {
	const struct bootinfo *bi;
	struct pci_host host;
	struct vdev dev;
	int use_irq;
	uint64_t seed, rng, tsc_khz, next_sector, verified;
	uint64_t submitted;
	enum { VERIFY_ALL, VERIFY_FIRST, VERIFY_NONE } verify;
};

static struct slot slots[BB_QD_MAX];
static uint8_t data[BB_QD_MAX][BB_BS_MAX] __attribute__((aligned(4096)));
static struct bench bench;

static uint64_t arg_u64(const struct bench *b, const char *key, uint64_t dflt)
{
	uint64_t v;

	return cmdline_get_u64(b->bi->cmdline, key, &v) ? v : dflt;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t next_offset(struct bench *b, const struct phase *p)
{
	uint64_t per = p->bs / SECTOR;

	if (p->name[0] == 'r')
		return (xorshift(&b->rng) % (p->span / per)) * per;
	uint64_t s = b->next_sector;
	b->next_sector = (s + per) % (p->span - p->span % per);
	return s;
}

static void fill_slot(struct vdev *d, unsigned i, uint64_t sector, uint32_t len)
{
	struct slot *s = &slots[i];
	struct vq *q = &d->vq;

	s->hdr = (struct blk_hdr){ BLK_T_IN, 0, sector };
	s->status = 0xFF;
	s->len = len;
	if (bench.verify != VERIFY_NONE)   /* must be overwritten by the device */
		*(volatile uint64_t *)data[i] = ~tag(bench.seed, sector);
	s->ind[0] = (struct vring_desc){ (uint64_t)(uintptr_t)&s->hdr, sizeof(s->hdr), DESC_F_NEXT, 1 };
	s->ind[1] = (struct vring_desc){ (uint64_t)(uintptr_t)data[i], len, DESC_F_WRITE | DESC_F_NEXT, 2 };
	s->ind[2] = (struct vring_desc){ (uint64_t)(uintptr_t)&s->status, 1, DESC_F_WRITE, 0 };
	q->desc[i] = (struct vring_desc){ (uint64_t)(uintptr_t)s->ind, sizeof(s->ind), DESC_F_INDIRECT, 0 };
	q->avail.ring[q->avail_idx % q->size] = (uint16_t)i;
	q->avail_idx++;
}

/* Publishes everything filled since the last call with one doorbell, as a
 * driver with a request batch does. */
static void publish(struct vdev *d)
{
	struct vq *q = &d->vq;

	__asm__ volatile("mfence" ::: "memory");
	*(volatile uint16_t *)&q->avail.idx = q->avail_idx;
	__asm__ volatile("mfence" ::: "memory");
	if (!(*(volatile uint16_t *)&q->used.flags & USED_F_NO_NOTIFY))
		*q->notify = q->index;
}

static int used_pending(void *arg)
{
	struct vq *q = arg;

	return *(volatile uint16_t *)&q->used.idx != q->last_used;
}

static const char *wait_used(struct bench *b)
{
	struct vq *q = &b->dev.vq;

	if (b->use_irq)
		return irq_wait_flag(used_pending, q, WAIT_CYCLES) ? 0 : "no completion (interrupt mode)";
	for (uint64_t t0 = rdtsc(); !used_pending(q);)
		if (rdtsc() - t0 > WAIT_CYCLES)
			return "no completion (polling)";
	return 0;
}

static const char *verify(struct bench *b, unsigned id, uint32_t used_len)
{
	const struct slot *s = &slots[id];

	if (s->status != BLK_S_OK)
		return "a read did not return VIRTIO_BLK_S_OK";
	if (used_len < s->len + 1)
		return "the used length is shorter than data + status";
	/* bb_verify=first|none: reading the data costs an emulated access per
	 * touched line on PVM (the page was just written by the host), which
	 * would dominate the timing; all (the default) checks every sector */
	uint32_t end = b->verify == VERIFY_ALL ? s->len : b->verify == VERIFY_FIRST ? SECTOR : 0;
	for (uint32_t off = 0; off < end; off += SECTOR) {
		uint64_t got = *(const volatile uint64_t *)(data[id] + off);
		if (got != tag(b->seed, s->hdr.sector + off / SECTOR)) {
			kprintf("blkbench: request %u sector %lu: tag 0x%lx\n", id,
				s->hdr.sector + off / SECTOR, got);
			return "data read differs from the disk's sector tags";
		}
	}
	b->verified += end / SECTOR;
	return 0;
}

/* Takes every completion there is; each slot goes out again while ops
 * remain. */
static const char *reap_and_refill(struct bench *b, const struct phase *p, uint64_t *done)
{
	struct vq *q = &b->dev.vq;
	const char *err;
	int refilled = 0;

	while (used_pending(q)) {
		__asm__ volatile("mfence" ::: "memory");
		uint32_t id = q->used.ring[q->last_used % q->size].id;
		uint32_t len = q->used.ring[q->last_used % q->size].len;
		q->last_used++;
		if (id >= p->qd)
			return "the device returned an id that is not outstanding";
		if ((err = verify(b, id, len)))
			return err;
		(*done)++;
		if (b->submitted < p->ops) {
			fill_slot(&b->dev, id, next_offset(b, p), p->bs);
			b->submitted++;
			refilled = 1;
		}
	}
	if (refilled)
		publish(&b->dev);
	return 0;
}

static const char *run_phase(struct bench *b, const struct phase *p, uint64_t *cycles)
{
	const char *err;
	uint64_t done = 0;

	b->next_sector = 0;
	b->submitted = 0;
	uint64_t t0 = rdtsc();
	for (unsigned i = 0; i < p->qd && b->submitted < p->ops; i++, b->submitted++)
		fill_slot(&b->dev, i, next_offset(b, p), p->bs);
	publish(&b->dev);
	while (done < p->ops) {
		if ((err = wait_used(b)) || (err = reap_and_refill(b, p, &done)))
			return err;
	}
	*cycles = rdtsc() - t0;
	return 0;
}

/* Integer-only (no FPU here): x/10 with one decimal. */
static void print_rates(const struct bench *b, const struct phase *p, uint64_t cycles)
{
	if (!b->tsc_khz || !cycles) {
		kprintf("\n");
		return;
	}
	uint64_t ns = cycles * 1000000 / b->tsc_khz;
	uint64_t mbps10 = p->ops * p->bs * 10000 / (ns ? ns : 1);
	uint64_t iops = p->ops * 1000000000 / (ns ? ns : 1);
	kprintf(" us=%lu MBps=%lu.%lu iops=%lu\n", ns / 1000, mbps10 / 10, mbps10 % 10, iops);
}

static const char *run_one(struct bench *b, struct phase *p)
{
	const char *err;
	uint64_t cycles;

	/* the runner timestamps this line and the result line (host-side check of the TSC rate) */
	kprintf("BLKBENCH begin %s qd=%u\n", p->name, p->qd);
	if ((err = run_phase(b, p, &cycles)))
		return err;
	kprintf("BLKBENCH %s qd=%u bs=%u ops=%lu bytes=%lu cycles=%lu", p->name, p->qd, p->bs, p->ops,
		p->ops * p->bs, cycles);
	print_rates(b, p, cycles);
	return 0;
}

/* bb_qd=1,16: the depths each phase runs at. */
static unsigned parse_depths(const struct bench *b, unsigned *qd)
{
	const char *v;
	uint64_t len, n = 0;

	if (!cmdline_get(b->bi->cmdline, "bb_qd", &v, &len)) {
		qd[0] = 1;
		qd[1] = BB_QD_MAX;
		return 2;
	}
	for (uint64_t start = 0, i = 0; i <= len && n < BB_MAX_DEPTHS; i++) {
		if (i < len && v[i] != ',')
			continue;
		uint64_t d;
		if (parse_u64(v + start, i - start, &d) == 0 && d)
			qd[n++] = (unsigned)d;
		start = i + 1;
	}
	return (unsigned)n;
}

static const char *start_device(struct bench *b, const struct acpi_info *ai)
{
	const char *err;

	pci_host_init(&b->host, ai->rsdp);
	pci_scan(&b->host, 0, 0);
	if (b->use_irq)
		irq_init();
	if ((err = vdev_probe(&b->dev, &b->host, VIRTIO_ID_BLOCK, "blk")) ||
	    (err = vdev_start(&b->dev, 1ULL << VIRTIO_F_INDIRECT_DESC, b->use_irq)))
		return err;
	if (b->dev.packed || !b->dev.indirect)
		return "the benchmark needs a split ring with indirect descriptors";
	if (!b->dev.devcfg)
		return "virtio-blk has no device configuration capability";
	return 0;
}

static const char *run_all(struct bench *b, const struct acpi_info *ai)
{
	static const char *const names[] = { "seq", "rand" };
	unsigned qd[BB_MAX_DEPTHS], nqd = parse_depths(b, qd);
	const char *err;

	if ((err = start_device(b, ai)))
		return err;
	uint64_t cap = vdev_cfg_read(&b->dev, 0, 8);
	kprintf("blkbench: capacity %lu sectors, %s, queue size %u\n", cap,
		b->use_irq ? "msi-x" : "polled", b->dev.vq.size);
	uint32_t bs = (uint32_t)arg_u64(b, "bb_bs", BB_DEF_BS), rbs = (uint32_t)arg_u64(b, "bb_rbs", BB_DEF_RBS);
	if (!bs || !rbs || bs > BB_BS_MAX || rbs > BB_BS_MAX || bs % SECTOR || rbs % SECTOR)
		return "bb_bs/bb_rbs must be multiples of 512 up to 256 KiB";
	if (cap < 2 * (uint64_t)bs / SECTOR)
		return "the disk is smaller than two requests";
	const char *sel;
	uint64_t sel_len;
	int all = !cmdline_get(b->bi->cmdline, "bb", &sel, &sel_len);   /* bb=seq,rand */
	unsigned ran = 0;
	for (unsigned n = 0; n < 2; n++) {
		if (!all && !cmdline_has_word(b->bi->cmdline, "bb", names[n]))
			continue;
		for (unsigned k = 0; k < nqd; k++) {
			struct phase p = { names[n], qd[k], n ? rbs : bs, 0, cap };
			uint64_t bytes = arg_u64(b, "bb_bytes", (cap * SECTOR) / bs * bs);
			p.ops = n ? arg_u64(b, "bb_rops", BB_DEF_ROPS) : bytes / bs;
			if (p.qd > b->dev.vq.size)
				return "bb_qd is larger than the queue";
			if (!p.ops)
				return "a phase with no requests";
			if ((err = run_one(b, &p)))
				return err;
			ran++;
		}
	}
	return ran ? 0 : "no phase selected (bb=seq,rand and bb_qd=1,16)";
}

int check_blkbench(const struct bootinfo *bi, const struct acpi_info *ai)
{
	struct bench *b = &bench;
	const char *err;

	memset(b, 0, sizeof(*b));
	b->bi = bi;
	b->use_irq = !cmdline_has_word(bi->cmdline, "vmode", "poll");
	b->seed = arg_u64(b, "bb_seed", 1);
	b->rng = b->seed | 1;
	b->tsc_khz = arg_u64(b, "tsc_khz", 0);
	b->verify = cmdline_has_word(bi->cmdline, "bb_verify", "none") ? VERIFY_NONE :
		    cmdline_has_word(bi->cmdline, "bb_verify", "first") ? VERIFY_FIRST : VERIFY_ALL;
	err = run_all(b, ai);
	if (b->dev.common)
		vdev_reset(&b->dev);
	if (b->use_irq)
		irq_fini();
	if (err) {
		kprintf("FAIL blkbench: %s\n", err);
		return 0;
	}
	kprintf("blkbench: %lu sectors verified\n", b->verified);
	kprintf("PASS blkbench\n");
	return 1;
}
