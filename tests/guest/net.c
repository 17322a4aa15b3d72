#include "net.h"
#include "acpi.h"
#include "bootinfo.h"
#include "dhcp.h"
#include "klib.h"
#include "serial.h"
#include "tcp.h"
#include "virtio.h"
#include "virtio_regs.h"

#define VIRTIO_ID_NET    1
#define F_MTU            3
#define F_MAC            5
#define F_MRG_RXBUF      15
#define F_STATUS         16
#define F_CTRL_VQ        17
#define F_MQ             22

#define CFG_MAC          0
#define CFG_STATUS       6
#define CFG_MAX_PAIRS    8
#define CFG_MTU          10

/* struct virtio_pci_common_cfg, as in virtio.c */
#define AVAIL_F_NO_INTERRUPT 1

#define NET_MAX_PAIRS    2
#define QSZ              16
#define HDR              12
/* Smaller than an MTU-sized frame and its header, so that such frames are
 * merged over two buffers (MRG_RXBUF) and the merging gets checked. */
#define RXBUF            1024
#define MAX_FRAME        1514
#define ETH_ARP          0x0806
#define ETH_IP           0x0800
#define STOP_WAIT        600000000000ULL /* TSC cycles: minutes; the runner times out first */
#define TX_WAIT          20000000000ULL

static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

struct ring {
	struct vring_desc desc[QSZ] __attribute__((aligned(16)));
	struct { uint16_t flags, idx, ring[QSZ], used_event; } avail __attribute__((aligned(16)));
	struct { uint16_t flags, idx; struct { uint32_t id, len; } ring[QSZ]; uint16_t avail_event; }
		used __attribute__((aligned(16)));
	volatile uint16_t *notify;
	uint16_t index, size, avail_idx, last_used;
} __attribute__((aligned(4096)));

struct nic {
	struct vdev dev;
	unsigned pairs;
	int mrg;
	uint8_t mac[6], ip[4];
	uint64_t rx[NET_MAX_PAIRS], tx[NET_MAX_PAIRS];
	uint64_t merged, big, bad, arp, icmp, udp, other;
	const char *error;
};

static struct nic nic;

/* net_user=1 (`--net user`): a DHCP exchange first, then a TCP responder
 * on net_tcp_port (its banner carries net_token) for the runner's
 * connection through a host port forward. */
struct user_net {
	int on, have_offer;
	uint32_t xid;
	struct dhcp_offer offer;
	struct tcp_responder tcp;
	char banner[40];
};
static struct user_net user;
static struct ring rings[2 * NET_MAX_PAIRS + 1];
static uint8_t rxbuf[NET_MAX_PAIRS][QSZ][RXBUF] __attribute__((aligned(64)));
static uint8_t txbuf[NET_MAX_PAIRS][HDR + MAX_FRAME + 2] __attribute__((aligned(64)));
static uint8_t frame[NET_MAX_PAIRS * QSZ * RXBUF];
static uint8_t ctrl_buf[16] __attribute__((aligned(16)));
static volatile uint8_t ctrl_ack __attribute__((aligned(16)));

static uint32_t cc_read(unsigned off, unsigned size)
{
	volatile uint8_t *p = nic.dev.common + off;
	return size == 1 ? *p : size == 2 ? *(volatile uint16_t *)p : *(volatile uint32_t *)p;
}

static void cc_write(unsigned off, unsigned size, uint32_t v)
{
	volatile uint8_t *p = nic.dev.common + off;
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

static uint64_t negotiate(uint64_t want)
{
	cc_write(CC_DFSELECT, 4, 0);
	uint64_t offered = cc_read(CC_DF, 4);
	cc_write(CC_DFSELECT, 4, 1);
	offered |= (uint64_t)cc_read(CC_DF, 4) << 32;
	uint64_t f = offered & want;
	cc_write(CC_GFSELECT, 4, 0);
	cc_write(CC_GF, 4, (uint32_t)f);
	cc_write(CC_GFSELECT, 4, 1);
	cc_write(CC_GF, 4, (uint32_t)(f >> 32));
	kprintf("net: features offered 0x%lx, accepted 0x%lx\n", offered, f);
	return f;
}

static const char *setup_ring(unsigned index)
{
	struct ring *r = &rings[index];

	memset(r, 0, sizeof(*r));
	r->index = (uint16_t)index;
	cc_write(CC_Q_SELECT, 2, index);
	uint32_t max = cc_read(CC_Q_SIZE, 2);
	if (!max)
		return "a queue has size 0";
	r->size = max < QSZ ? (uint16_t)max : QSZ;
	cc_write(CC_Q_SIZE, 2, r->size);
	cc_write(CC_Q_MSIX, 2, NO_VECTOR);
	r->notify = (volatile uint16_t *)(nic.dev.notify_base +
					  cc_read(CC_Q_NOFF, 2) * nic.dev.notify_mult);
	r->avail.flags = AVAIL_F_NO_INTERRUPT; /* polled */
	cc_write64(CC_Q_DESC, (uint64_t)(uintptr_t)r->desc);
	cc_write64(CC_Q_DRIVER, (uint64_t)(uintptr_t)&r->avail);
	cc_write64(CC_Q_DEVICE, (uint64_t)(uintptr_t)&r->used);
	cc_write(CC_Q_ENABLE, 2, 1);
	return 0;
}

static void kick(struct ring *r)
{
	mb();
	*r->notify = r->index;
}

/* Descriptor `id` (a chain of one) goes on the available ring. */
static void post(struct ring *r, uint16_t id, uint64_t addr, uint32_t len, int write)
{
	r->desc[id] = (struct vring_desc){ addr, len, (uint16_t)(write ? DESC_F_WRITE : 0), 0 };
	r->avail.ring[r->avail_idx % r->size] = id;
	mb();
	r->avail_idx++;
	*(volatile uint16_t *)&r->avail.idx = r->avail_idx;
}

static uint16_t used_count(const struct ring *r)
{
	return (uint16_t)(*(const volatile uint16_t *)&r->used.idx - r->last_used);
}

/* Waits for one used entry (TX and control); 1 with its length. */
static int wait_used(struct ring *r, uint32_t *len)
{
	uint64_t t0 = rdtsc();

	while (!used_count(r))
		if (rdtsc() - t0 > TX_WAIT)
			return 0;
	mb();
	*len = r->used.ring[r->last_used % r->size].len;
	r->last_used++;
	return 1;
}

static const char *set_pairs(unsigned pairs)
{
	struct ring *r = &rings[2 * nic.pairs];
	uint32_t len;

	ctrl_buf[0] = 4; /* VIRTIO_NET_CTRL_MQ */
	ctrl_buf[1] = 0; /* VQ_PAIRS_SET */
	ctrl_buf[2] = (uint8_t)pairs;
	ctrl_buf[3] = 0;
	ctrl_ack = 0xEE;
	r->desc[0] = (struct vring_desc){ (uint64_t)(uintptr_t)ctrl_buf, 4, 1 /* NEXT */, 1 };
	r->desc[1] = (struct vring_desc){ (uint64_t)(uintptr_t)&ctrl_ack, 1, DESC_F_WRITE, 0 };
	r->avail.ring[r->avail_idx % r->size] = 0;
	mb();
	r->avail_idx++;
	*(volatile uint16_t *)&r->avail.idx = r->avail_idx;
	kick(r);
	if (!wait_used(r, &len))
		return "the control command VQ_PAIRS_SET was not answered";
	if (ctrl_ack != 0)
		return "the device refused VQ_PAIRS_SET";
	return 0;
}

static const char *start(const struct bootinfo *bi, const struct acpi_info *ai, uint64_t qp)
{
	struct pci_host host;
	const char *err;

	pci_host_init(&host, ai->rsdp);
	if ((err = vdev_probe(&nic.dev, &host, VIRTIO_ID_NET, "net")))
		return err;
	if (!nic.dev.devcfg)
		return "no device configuration capability";
	vdev_reset(&nic.dev);
	cc_write(CC_STATUS, 1, ST_ACKNOWLEDGE);
	cc_write(CC_STATUS, 1, ST_ACKNOWLEDGE | ST_DRIVER);
	uint64_t want = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << F_MAC | 1ULL << F_MTU |
			1ULL << F_STATUS | 1ULL << F_MRG_RXBUF | 1ULL << F_CTRL_VQ;
	if (qp > 1)
		want |= 1ULL << F_MQ;
	uint64_t f = negotiate(want);
	if (f != want)
		return "the device does not offer VERSION_1, MAC, MTU, STATUS, MRG_RXBUF, CTRL_VQ (and MQ)";
	cc_write(CC_STATUS, 1, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	if (!(cc_read(CC_STATUS, 1) & ST_FEATURES_OK))
		return "FEATURES_OK did not stick";
	nic.mrg = 1;
	nic.pairs = (unsigned)qp;
	for (unsigned q = 0; q <= 2 * nic.pairs; q++)
		if ((err = setup_ring(q)))
			return err;
	cc_write(CC_STATUS, 1, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	if (cc_read(CC_STATUS, 1) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		return "NEEDS_RESET or FAILED after DRIVER_OK";
	(void)bi;
	return 0;
}

static const char *check_config(const struct bootinfo *bi, uint64_t qp)
{
	uint64_t want_mac = 0, got_mac = 0, want_mtu = 1500;

	for (unsigned i = 0; i < 6; i++) {
		nic.mac[i] = (uint8_t)vdev_cfg_read(&nic.dev, CFG_MAC + i, 1);
		got_mac = got_mac << 8 | nic.mac[i];
	}
	uint64_t status = vdev_cfg_read(&nic.dev, CFG_STATUS, 2);
	uint64_t pairs = vdev_cfg_read(&nic.dev, CFG_MAX_PAIRS, 2);
	uint64_t mtu = vdev_cfg_read(&nic.dev, CFG_MTU, 2);
	kprintf("net: mac %02x:%02x:%02x:%02x:%02x:%02x status %lu max_pairs %lu mtu %lu\n",
		nic.mac[0], nic.mac[1], nic.mac[2], nic.mac[3], nic.mac[4], nic.mac[5], status, pairs,
		mtu);
	cmdline_get_u64(bi->cmdline, "net_mac", &want_mac);
	cmdline_get_u64(bi->cmdline, "net_mtu", &want_mtu);
	if (got_mac != want_mac)
		return "the MAC in the configuration is not net_mac";
	if (!(status & 1))
		return "link is not up (VIRTIO_NET_S_LINK_UP)";
	if (pairs != qp)
		return "max_virtqueue_pairs is not net_qp";
	if (mtu != want_mtu)
		return "the MTU in the configuration is not net_mtu";
	return 0;
}

static void fill_rx(unsigned pair)
{
	struct ring *r = &rings[2 * pair];

	for (uint16_t i = 0; i < r->size; i++)
		post(r, i, (uint64_t)(uintptr_t)rxbuf[pair][i], RXBUF, 1);
	kick(r);
}

/* ---- frames ---- */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint16_t csum(const uint8_t *p, unsigned len)
{
	uint32_t s = 0;

	for (unsigned i = 0; i + 1 < len; i += 2)
		s += be16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	return (uint16_t)~s;
}

static void transmit(unsigned pair, unsigned len)
{
	struct ring *r = &rings[2 * pair + 1];
	uint32_t used;

	memset(txbuf[pair], 0, HDR);
	post(r, 0, (uint64_t)(uintptr_t)txbuf[pair], HDR + len, 0);
	kick(r);
	if (!wait_used(r, &used)) {
		nic.error = "a transmitted frame was not returned";
		return;
	}
	nic.tx[pair]++;
}

static uint8_t *tx_frame(unsigned pair)
{
	return txbuf[pair] + HDR;
}

static void eth_header(uint8_t *out, const uint8_t *dst, uint16_t type)
{
	memcpy(out, dst, 6);
	memcpy(out + 6, nic.mac, 6);
	put_be16(out + 12, type);
}

static void arp_frame(uint8_t *o, uint16_t oper, const uint8_t *tha, const uint8_t *tpa)
{
	static const uint8_t bcast[6] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };

	eth_header(o, oper == 1 ? bcast : tha, ETH_ARP);
	put_be16(o + 14, 1);
	put_be16(o + 16, ETH_IP);
	o[18] = 6;
	o[19] = 4;
	put_be16(o + 20, oper);
	memcpy(o + 22, nic.mac, 6);
	memcpy(o + 28, nic.ip, 4);
	memcpy(o + 32, tha, 6);
	memcpy(o + 38, tpa, 4);
}

static void on_arp(unsigned pair, const uint8_t *f, unsigned len)
{
	if (len < 42 || be16(f + 20) != 1 || memcmp(f + 38, nic.ip, 4))
		return;
	nic.arp++;
	arp_frame(tx_frame(pair), 2, f + 22, f + 28);
	transmit(pair, 42);
}

static void on_ip(unsigned pair, const uint8_t *f, unsigned len)
{
	const uint8_t *ip = f + 14;
	unsigned ihl = (ip[0] & 0xF) * 4u, total = be16(ip + 2);

	if (len < 34 || (ip[0] >> 4) != 4 || ihl < 20 || total < ihl || 14 + total > len ||
	    memcmp(ip + 16, nic.ip, 4))
		return;
	if (csum(ip, ihl)) {
		nic.bad++;
		return;
	}
	if (ip[9] == 6 && user.on) {
		unsigned n = tcp_input(&user.tcp, f, len, tx_frame(pair));
		if (n)
			transmit(pair, n);
		return;
	}
	if (ip[9] == 17) {
		nic.udp++;
		return;
	}
	if (ip[9] != 1 || ip[ihl] != 8) {
		nic.other++;
		return;
	}
	/* The whole echo request must have arrived intact: its checksum. */
	if (csum(ip + ihl, total - ihl)) {
		nic.bad++;
		return;
	}
	nic.icmp++;
	if (14 + total >= MAX_FRAME)
		nic.big++;
	uint8_t *o = tx_frame(pair);
	eth_header(o, f + 6, ETH_IP);
	memcpy(o + 14, ip, total);
	uint8_t *oip = o + 14;
	memcpy(oip + 12, nic.ip, 4);
	memcpy(oip + 16, ip + 12, 4);
	oip[8] = 64;
	put_be16(oip + 10, 0);
	put_be16(oip + 10, csum(oip, ihl));
	oip[ihl] = 0; /* echo reply */
	put_be16(oip + ihl + 2, 0);
	put_be16(oip + ihl + 2, csum(oip + ihl, total - ihl));
	transmit(pair, 14 + total);
}

static void on_frame(unsigned pair, const uint8_t *f, unsigned len)
{
	nic.rx[pair]++;
	if (len < 14)
		return;
	if (be16(f + 12) == ETH_ARP)
		on_arp(pair, f, len);
	else if (be16(f + 12) == ETH_IP && user.on && !user.have_offer &&
		 dhcp_read_offer(f, len, user.xid, &user.offer))
		user.have_offer = 1;
	else if (be16(f + 12) == ETH_IP)
		on_ip(pair, f, len);
	else
		nic.other++;
}

/* Takes the next whole frame from the pair's receive queue, if one is
 * there: num_buffers used entries (all pushed before the frame counts). */
static void poll_rx(unsigned pair)
{
	struct ring *r = &rings[2 * pair];

	while (used_count(r)) {
		mb();
		uint16_t id = (uint16_t)r->used.ring[r->last_used % r->size].id;
		if (id >= r->size) {
			nic.error = "used id out of range";
			return;
		}
		uint16_t nbufs = (uint16_t)(rxbuf[pair][id][10] | rxbuf[pair][id][11] << 8);
		if (nbufs < 1 || nbufs > r->size) {
			nic.error = "num_buffers out of range";
			return;
		}
		uint64_t t0 = rdtsc();
		while (used_count(r) < nbufs)
			if (rdtsc() - t0 > TX_WAIT) {
				nic.error = "a merged frame's buffers did not all arrive";
				return;
			}
		mb();
		unsigned len = 0;
		for (uint16_t k = 0; k < nbufs; k++) {
			uint16_t uid = (uint16_t)r->used.ring[r->last_used % r->size].id;
			uint32_t ulen = r->used.ring[r->last_used % r->size].len;
			r->last_used++;
			if (uid >= r->size || ulen > RXBUF || (k == 0 && ulen < HDR)) {
				nic.error = "a used entry has a bad id or length";
				return;
			}
			memcpy(frame + len, rxbuf[pair][uid] + (k ? 0 : HDR), ulen - (k ? 0 : HDR));
			len += ulen - (k ? 0 : HDR);
			post(r, uid, (uint64_t)(uintptr_t)rxbuf[pair][uid], RXBUF, 1);
		}
		kick(r);
		if (nbufs > 1)
			nic.merged++;
		on_frame(pair, frame, len);
	}
}

static int ip_is(const uint8_t a[4], uint32_t want)
{
	return a[0] == (uint8_t)(want >> 24) && a[1] == (uint8_t)(want >> 16) &&
	       a[2] == (uint8_t)(want >> 8) && a[3] == (uint8_t)want;
}

/* DISCOVER (three tries) until the built-in server's OFFER arrives: QEMU's
 * addresses are expected. */
static const char *user_dhcp(void)
{
	const struct dhcp_offer *o = &user.offer;

	user.xid = (uint32_t)rdtsc() | 1;
	for (int tries = 0; tries < 3 && !user.have_offer && !nic.error; tries++) {
		transmit(0, dhcp_discover(tx_frame(0), nic.mac, user.xid));
		uint64_t t0 = rdtsc();
		while (!user.have_offer && !nic.error && rdtsc() - t0 < TX_WAIT)
			poll_rx(0);
	}
	if (nic.error)
		return nic.error;
	if (!user.have_offer)
		return "no DHCP OFFER";
	kprintf("DHCP offer %u.%u.%u.%u mask %u.%u.%u.%u router %u.%u.%u.%u dns %u.%u.%u.%u\n",
		o->yiaddr[0], o->yiaddr[1], o->yiaddr[2], o->yiaddr[3], o->mask[0], o->mask[1],
		o->mask[2], o->mask[3], o->router[0], o->router[1], o->router[2], o->router[3],
		o->dns[0], o->dns[1], o->dns[2], o->dns[3]);
	if (!ip_is(o->yiaddr, 0x0A00020F))
		return "the OFFER's yiaddr is not 10.0.2.15";
	if (!o->have_mask || !ip_is(o->mask, 0xFFFFFF00))
		return "the OFFER's subnet mask is not 255.255.255.0";
	if (!o->have_router || !ip_is(o->router, 0x0A000202))
		return "the OFFER's router is not 10.0.2.2";
	if (!o->have_dns || !ip_is(o->dns, 0x0A000203))
		return "the OFFER's DNS server is not 10.0.2.3";
	return 0;
}

static void user_setup(const struct bootinfo *bi)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t on = 0, port = 7777, token = 0;
	char *b = user.banner;

	cmdline_get_u64(bi->cmdline, "net_user", &on);
	cmdline_get_u64(bi->cmdline, "net_tcp_port", &port);
	cmdline_get_u64(bi->cmdline, "net_token", &token);
	user.on = on != 0;
	memcpy(b, "ALIOTH-GUEST ", 13);
	for (int i = 0; i < 16; i++)
		b[13 + i] = hex[(token >> (60 - 4 * i)) & 0xF];
	memcpy(b + 29, "\r\n", 3);
	tcp_init(&user.tcp, nic.mac, nic.ip, (uint16_t)port, user.banner);
}

/* "STOP" on the console ends the loop. */
static int stop_requested(char *line, unsigned *n)
{
	int c = serial_getc(1);

	if (c < 0)
		return 0;
	if (c == '\n' || c == '\r') {
		int stop = *n == 4 && !memcmp(line, "STOP", 4);
		*n = 0;
		return stop;
	}
	if (*n < 15)
		line[(*n)++] = (char)c;
	return 0;
}

int check_net(const struct bootinfo *bi, const struct acpi_info *ai)
{
	uint64_t qp = 1, ip = 0x0A00020F; /* 10.0.2.15 */
	const char *err;
	char line[16];
	unsigned n = 0;

	cmdline_get_u64(bi->cmdline, "net_qp", &qp);
	cmdline_get_u64(bi->cmdline, "net_ip", &ip);
	if (qp < 1 || qp > NET_MAX_PAIRS) {
		kprintf("FAIL net: net_qp must be 1 or 2\n");
		return 0;
	}
	for (unsigned i = 0; i < 4; i++)
		nic.ip[i] = (uint8_t)(ip >> (24 - 8 * i));
	if ((err = start(bi, ai, qp)) || (err = check_config(bi, qp)) ||
	    (qp > 1 && (err = set_pairs((unsigned)qp)))) {
		kprintf("FAIL net: %s\n", err);
		return 0;
	}
	for (unsigned p = 0; p < nic.pairs; p++)
		fill_rx(p);
	user_setup(bi);
	if (user.on && (err = user_dhcp())) {
		kprintf("FAIL net: %s\n", err);
		return 0;
	}
	kprintf("READY net %u.%u.%u.%u\n", nic.ip[0], nic.ip[1], nic.ip[2], nic.ip[3]);
	uint64_t t0 = rdtsc();
	while (!nic.error && !stop_requested(line, &n)) {
		for (unsigned p = 0; p < nic.pairs; p++)
			poll_rx(p);
		if (rdtsc() - t0 > STOP_WAIT) {
			nic.error = "no STOP from the runner";
			break;
		}
	}
	/* Something leaves on every transmit queue: a gratuitous ARP each. */
	for (unsigned p = 0; p < nic.pairs && !nic.error; p++) {
		arp_frame(tx_frame(p), 1, (const uint8_t *)"\0\0\0\0\0\0", nic.ip);
		transmit(p, 42);
	}
	kprintf("NET");
	for (unsigned p = 0; p < nic.pairs; p++)
		kprintf(" rx%u=%lu tx%u=%lu", p, nic.rx[p], p, nic.tx[p]);
	kprintf(" arp=%lu icmp=%lu big=%lu merged=%lu udp=%lu bad=%lu other=%lu\n", nic.arp,
		nic.icmp, nic.big, nic.merged, nic.udp, nic.bad, nic.other);
	if (user.on)
		kprintf("TCP conns=%lu closed=%lu in=%lu resets=%lu bad=%lu\n", user.tcp.conns,
			user.tcp.closed, user.tcp.bytes_in, user.tcp.resets, user.tcp.bad);
	if (vdev_status(&nic.dev) & VIRTIO_STATUS_NEEDS_RESET)
		nic.error = "the device set NEEDS_RESET";
	vdev_reset(&nic.dev);
	if (nic.error || nic.bad || user.tcp.bad) {
		kprintf("FAIL net: %s\n", nic.error ? nic.error : "frames arrived damaged");
		return 0;
	}
	kprintf("PASS net\n");
	return 1;
}
