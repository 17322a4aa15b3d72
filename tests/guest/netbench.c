#include "netbench.h"
#include "acpi.h"
#include "bootinfo.h"
#include "klib.h"
#include "serial.h"
#include "virtio.h"
#include "virtio_regs.h"

#define VIRTIO_ID_NET   1
#define F_MAC           5
#define CFG_MAC         0

/* struct virtio_pci_common_cfg */
#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY 1

#define NB_QSZ          256           /* both VMMs' maximum: deep enough to batch */
#define HDR             12            /* virtio_net_hdr_v1 (VERSION_1) */
#define NB_BUF          2048          /* a whole 1514-byte frame per receive buffer */
#define NB_ETHERTYPE    0x88B5        /* IEEE local experimental: the host stack drops it */
#define WAIT_CYCLES     20000000000ULL /* a ring that moves nothing this long is stuck */
#define START_CYCLES    200000000000ULL /* rx: the host's first frame, minutes */

/* One split ring; RX is queue 0, TX queue 1 (no MQ, no control queue). */
struct nbring {
	struct vring_desc desc[NB_QSZ] __attribute__((aligned(4096)));
	struct { uint16_t flags, idx, ring[NB_QSZ], used_event; } avail __attribute__((aligned(16)));
	struct { uint16_t flags, idx; struct { uint32_t id, len; } ring[NB_QSZ]; uint16_t avail_event; }
		used __attribute__((aligned(4096)));
	volatile uint16_t *notify;
	uint16_t index, size, avail_idx, last_used;
	uint64_t kicks;
};

struct nb {
	const struct bootinfo *bi;
	struct pci_host host;
	struct vdev dev;
	uint8_t mac[6];
	uint64_t size, count, batch, tsc_khz, idle_ms;
	int verify;
};

static struct nbring rxq, txq;
static uint8_t rxbuf[NB_QSZ][NB_BUF] __attribute__((aligned(4096)));
static uint8_t txbuf[NB_QSZ][NB_BUF] __attribute__((aligned(4096)));
static uint16_t txfree[NB_QSZ];
static struct nb nb;

static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

static uint64_t arg(const char *key, uint64_t dflt)
{
	uint64_t v;

	return cmdline_get_u64(nb.bi->cmdline, key, &v) ? v : dflt;
}

static uint32_t cc_read(unsigned off, unsigned size)
{
	volatile uint8_t *p = nb.dev.common + off;
	return size == 1 ? *p : size == 2 ? *(volatile uint16_t *)p : *(volatile uint32_t *)p;
}

static void cc_write(unsigned off, unsigned size, uint32_t v)
{
	volatile uint8_t *p = nb.dev.common + off;
	if (size == 1)
		*p = (uint8_t)v;
	else if (size == 2)
		*(volatile uint16_t *)p = (uint16_t)v;
	else
		*(volatile uint32_t *)p = v;
}

static void cc_write64(unsigned off, uint64_t v)
{
	cc_write(off, 4, (uint32_t)v);
	cc_write(off + 4, 4, (uint32_t)(v >> 32));
}

static const char *setup_ring(struct nbring *r, unsigned index)
{
	memset(r, 0, sizeof(*r));
	r->index = (uint16_t)index;
	cc_write(CC_Q_SELECT, 2, index);
	uint32_t max = cc_read(CC_Q_SIZE, 2);
	if (!max)
		return "a queue has size 0";
	r->size = max < NB_QSZ ? (uint16_t)max : NB_QSZ;
	cc_write(CC_Q_SIZE, 2, r->size);
	cc_write(CC_Q_MSIX, 2, NO_VECTOR);
	r->notify = (volatile uint16_t *)(nb.dev.notify_base + cc_read(CC_Q_NOFF, 2) * nb.dev.notify_mult);
	r->avail.flags = AVAIL_F_NO_INTERRUPT;   /* polled */
	cc_write64(CC_Q_DESC, (uint64_t)(uintptr_t)r->desc);
	cc_write64(CC_Q_DRIVER, (uint64_t)(uintptr_t)&r->avail);
	cc_write64(CC_Q_DEVICE, (uint64_t)(uintptr_t)&r->used);
	cc_write(CC_Q_ENABLE, 2, 1);
	return 0;
}

/* VERSION_1 and MAC only: no merging, no offloads, no control queue, so
 * both VMMs move exactly one descriptor per frame. */
static const char *start_device(const struct acpi_info *ai)
{
	const char *err;
	uint64_t want = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << F_MAC;

	pci_host_init(&nb.host, ai->rsdp);
	if ((err = vdev_probe(&nb.dev, &nb.host, VIRTIO_ID_NET, "net")))
		return err;
	if (!nb.dev.devcfg)
		return "no device configuration capability";
	vdev_reset(&nb.dev);
	cc_write(CC_STATUS, 1, ST_ACKNOWLEDGE);
	cc_write(CC_STATUS, 1, ST_ACKNOWLEDGE | ST_DRIVER);
	cc_write(CC_DFSELECT, 4, 0);
	uint64_t offered = cc_read(CC_DF, 4);
	cc_write(CC_DFSELECT, 4, 1);
	offered |= (uint64_t)cc_read(CC_DF, 4) << 32;
	if ((offered & want) != want)
		return "the device does not offer VERSION_1 and MAC";
	cc_write(CC_GFSELECT, 4, 0);
	cc_write(CC_GF, 4, (uint32_t)want);
	cc_write(CC_GFSELECT, 4, 1);
	cc_write(CC_GF, 4, (uint32_t)(want >> 32));
	cc_write(CC_STATUS, 1, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	if (!(cc_read(CC_STATUS, 1) & ST_FEATURES_OK))
		return "FEATURES_OK did not stick";
	if ((err = setup_ring(&rxq, 0)) || (err = setup_ring(&txq, 1)))
		return err;
	cc_write(CC_STATUS, 1, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	if (cc_read(CC_STATUS, 1) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		return "NEEDS_RESET or FAILED after DRIVER_OK";
	for (unsigned i = 0; i < 6; i++)
		nb.mac[i] = (uint8_t)vdev_cfg_read(&nb.dev, CFG_MAC + i, 1);
	kprintf("netbench: mac %02x:%02x:%02x:%02x:%02x:%02x, queue sizes rx %u tx %u\n", nb.mac[0],
		nb.mac[1], nb.mac[2], nb.mac[3], nb.mac[4], nb.mac[5], rxq.size, txq.size);
	return 0;
}

static void put_desc(struct nbring *r, uint16_t id, const void *buf, uint32_t len, int write)
{
	r->desc[id] = (struct vring_desc){ (uint64_t)(uintptr_t)buf, len,
					   (uint16_t)(write ? DESC_F_WRITE : 0), 0 };
	r->avail.ring[r->avail_idx % r->size] = id;
	r->avail_idx++;
}

/* Makes everything put since the last call visible with one index store
 * and one doorbell (unless the device said it is polling the ring), as a
 * driver with a batch does: on PVM the doorbell is the costly part. */
static void publish(struct nbring *r)
{
	mb();
	*(volatile uint16_t *)&r->avail.idx = r->avail_idx;
	mb();
	if (!(*(volatile uint16_t *)&r->used.flags & USED_F_NO_NOTIFY)) {
		*r->notify = r->index;
		r->kicks++;
	}
}

static int used_pending(const struct nbring *r)
{
	return *(const volatile uint16_t *)&r->used.idx != r->last_used;
}

/* Integer-only (no FPU here): rates with one decimal. */
static void print_rates(uint64_t frames, uint64_t bytes, uint64_t cycles)
{
	if (!nb.tsc_khz || !cycles) {
		kprintf("\n");
		return;
	}
	uint64_t ns = cycles * 1000000 / nb.tsc_khz;
	ns = ns ? ns : 1;
	uint64_t mbps10 = bytes * 10000 / ns;
	kprintf(" us=%lu pps=%lu MBps=%lu.%lu\n", ns / 1000, frames * 1000000000 / ns, mbps10 / 10,
		mbps10 % 10);
}

static void make_tx_frame(uint8_t *f)
{
	static const uint8_t dst[6] = { 0x02, 0x6e, 0x62, 0x00, 0x00, 0x01 };

	memset(f - HDR, 0, HDR);
	memcpy(f, dst, 6);
	memcpy(f + 6, nb.mac, 6);
	f[12] = NB_ETHERTYPE >> 8;
	f[13] = NB_ETHERTYPE & 0xFF;
	for (unsigned i = 18; i < nb.size; i++)
		f[i] = (uint8_t)(i * 7);
}

static void put_seq(uint8_t *f, uint32_t seq)
{
	f[14] = (uint8_t)seq;
	f[15] = (uint8_t)(seq >> 8);
	f[16] = (uint8_t)(seq >> 16);
	f[17] = (uint8_t)(seq >> 24);
}

/* Returns completed buffers to the free list; how many. */
static const char *reap_tx(uint16_t *nfree, uint64_t *done)
{
	while (used_pending(&txq)) {
		mb();
		uint32_t id = txq.used.ring[txq.last_used % txq.size].id;
		txq.last_used++;
		if (id >= txq.size)
			return "the device returned a TX id out of range";
		if (*nfree >= txq.size)
			return "the device returned more TX buffers than were out";
		txfree[(*nfree)++] = (uint16_t)id;
		(*done)++;
	}
	return 0;
}

/* nb=tx: every free descriptor goes out (one frame each, sequence number
 * in the payload) whenever a batch of them is free again; timed from the
 * first post to the last completion. */
static const char *run_tx(void)
{
	uint64_t posted = 0, done = 0, last_progress;
	uint16_t nfree = txq.size;
	const char *err;

	for (uint16_t i = 0; i < txq.size; i++) {
		txfree[i] = i;
		make_tx_frame(txbuf[i] + HDR);
	}
	kprintf("NETBENCH begin tx size=%lu count=%lu\n", nb.size, nb.count);
	uint64_t t0 = rdtsc();
	last_progress = t0;
	while (done < nb.count) {
		uint64_t before = done;
		if ((err = reap_tx(&nfree, &done)))
			return err;
		uint64_t left = nb.count - posted;
		if (left && (nfree >= nb.batch || nfree >= left)) {
			while (nfree && posted < nb.count) {
				uint16_t id = txfree[--nfree];
				put_seq(txbuf[id] + HDR, (uint32_t)posted++);
				put_desc(&txq, id, txbuf[id], (uint32_t)(HDR + nb.size), 0);
			}
			publish(&txq);
		}
		uint64_t now = rdtsc();
		if (done != before)
			last_progress = now;
		else if (now - last_progress > WAIT_CYCLES)
			return "transmitted frames stopped coming back";
	}
	uint64_t cycles = rdtsc() - t0;
	kprintf("NETBENCH tx size=%lu frames=%lu bytes=%lu cycles=%lu kicks=%lu", nb.size, done,
		done * nb.size, cycles, txq.kicks);
	print_rates(done, done * nb.size, cycles);
	return 0;
}

struct rx_count {
	uint64_t frames, bytes, other, gaps, t_first, t_last;
	uint32_t next_seq;
};

static uint32_t get_seq(const uint8_t *f)
{
	return (uint32_t)f[14] | (uint32_t)f[15] << 8 | (uint32_t)f[16] << 16 | (uint32_t)f[17] << 24;
}

/* Reading a frame the host has just written costs an emulated access per
 * line on PVM, so only nb_verify=1 looks inside (type and sequence); the
 * default counts by the used length alone. */
static const char *take_frame(struct rx_count *c, uint32_t id, uint32_t len)
{
	if (len != HDR + nb.size) {
		c->other++;
		return 0;
	}
	if (nb.verify) {
		const uint8_t *f = rxbuf[id] + HDR;
		if ((f[12] << 8 | f[13]) != NB_ETHERTYPE || memcmp(f, nb.mac, 6)) {
			c->other++;
			return 0;
		}
		uint32_t seq = get_seq(f);
		if (c->frames && seq < c->next_seq)
			return "a frame arrived out of order or twice";
		c->gaps += seq - c->next_seq;   /* frames the host sent that never arrived */
		c->next_seq = seq + 1;
	}
	c->frames++;
	c->bytes += nb.size;
	return 0;
}

static const char *reap_rx(struct rx_count *c, uint16_t *pending)
{
	const char *err;

	while (used_pending(&rxq)) {
		mb();
		uint32_t id = rxq.used.ring[rxq.last_used % rxq.size].id;
		uint32_t len = rxq.used.ring[rxq.last_used % rxq.size].len;
		rxq.last_used++;
		if (id >= rxq.size || len > NB_BUF)
			return "a used entry has a bad id or length";
		uint64_t now = rdtsc();
		if (!c->frames)
			c->t_first = now;
		c->t_last = now;
		if ((err = take_frame(c, id, len)))
			return err;
		put_desc(&rxq, (uint16_t)id, rxbuf[id], NB_BUF, 1);
		(*pending)++;
	}
	return 0;
}

/* nb=rx: all buffers posted, READY, then frames counted (and their
 * buffers posted again a batch at a time) until nb_count arrived or none
 * for nb_idle_ms. Timed from the first to the last frame seen. */
static const char *run_rx(void)
{
	struct rx_count c = { 0 };
	uint16_t pending = 0;
	const char *err;
	uint64_t idle = nb.tsc_khz ? nb.idle_ms * nb.tsc_khz : nb.idle_ms * 3000000;

	for (uint16_t i = 0; i < rxq.size; i++)
		put_desc(&rxq, i, rxbuf[i], NB_BUF, 1);
	publish(&rxq);
	kprintf("NETBENCH ready rx size=%lu\n", nb.size);
	uint64_t t_ready = rdtsc();
	for (;;) {
		if ((err = reap_rx(&c, &pending)))
			return err;
		if (pending >= nb.batch) {
			publish(&rxq);
			pending = 0;
		}
		if (nb.count && c.frames >= nb.count)
			break;
		uint64_t now = rdtsc();
		if (c.frames && now - c.t_last > idle)
			break;
		if (!c.frames && now - t_ready > START_CYCLES)
			return "no frame arrived";
	}
	uint64_t cycles = c.t_last - c.t_first;
	kprintf("NETBENCH rx size=%lu frames=%lu bytes=%lu cycles=%lu kicks=%lu other=%lu gaps=%lu",
		nb.size, c.frames, c.bytes, cycles, rxq.kicks, c.other, c.gaps);
	/* the first frame opens the interval, so it is not counted in the rate */
	print_rates(c.frames - 1, c.bytes - nb.size, cycles);
	return 0;
}

static const char *run(const struct acpi_info *ai)
{
	const char *err;

	nb.size = arg("nb_size", 64);
	nb.count = arg("nb_count", 100000);
	nb.batch = arg("nb_batch", NB_QSZ / 4);
	nb.tsc_khz = arg("tsc_khz", 0);
	nb.idle_ms = arg("nb_idle_ms", 500);
	nb.verify = arg("nb_verify", 0) != 0;
	if (nb.size < 18 || nb.size > NB_BUF - HDR)
		return "nb_size must be 18..2036 (a frame without FCS)";
	if ((err = start_device(ai)))
		return err;
	if (!nb.batch || nb.batch > txq.size || nb.batch > rxq.size)
		return "nb_batch must be 1..queue size";
	if (cmdline_has_word(nb.bi->cmdline, "nb", "tx")) {
		if (!nb.count)
			return "nb=tx needs nb_count > 0";
		return run_tx();
	}
	if (cmdline_has_word(nb.bi->cmdline, "nb", "rx"))
		return run_rx();
	return "nb=tx or nb=rx";
}

int check_netbench(const struct bootinfo *bi, const struct acpi_info *ai)
{
	const char *err;

	memset(&nb, 0, sizeof(nb));
	nb.bi = bi;
	err = run(ai);
	if (!err && nb.dev.common && (vdev_status(&nb.dev) & VIRTIO_STATUS_NEEDS_RESET))
		err = "the device set NEEDS_RESET";
	if (nb.dev.common)
		vdev_reset(&nb.dev);
	if (err) {
		kprintf("FAIL netbench: %s\n", err);
		return 0;
	}
	kprintf("PASS netbench\n");
	return 1;
}
