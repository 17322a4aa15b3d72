#include "virtio.h"
#include "irq.h"
#include "klib.h"
#include "serial.h"
#include "virtio_regs.h"

/* virtio_pci_cap.cfg_type */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4

/* struct virtio_pci_common_cfg */


#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY 1
#define EVENT_ENABLE    0
#define EVENT_DISABLE   1
#define EVENT_DESC      2

#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_WORDS 4

#define WAIT_CYCLES 20000000000ULL  /* several seconds at any TSC rate; TCG is slow */

static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

static uint32_t mmio_read(volatile uint8_t *base, unsigned off, unsigned size)
{
	if (size == 1)
		return *(volatile uint8_t *)(base + off);
	if (size == 2)
		return *(volatile uint16_t *)(base + off);
	return *(volatile uint32_t *)(base + off);
}

static void mmio_write(volatile uint8_t *base, unsigned off, unsigned size, uint32_t v)
{
	if (size == 1)
		*(volatile uint8_t *)(base + off) = (uint8_t)v;
	else if (size == 2)
		*(volatile uint16_t *)(base + off) = (uint16_t)v;
	else
		*(volatile uint32_t *)(base + off) = v;
}

static void cc_write64(struct vdev *d, unsigned off, uint64_t v)
{
	mmio_write(d->common, off, 4, (uint32_t)v);
	mmio_write(d->common, off + 4, 4, (uint32_t)(v >> 32));
}

static int is_virtio_of_type(const struct pci_fn *f, unsigned type)
{
	if (f->vendor != VIRTIO_VENDOR)
		return 0;
	if (f->device >= 0x1040 && f->device <= 0x107F)
		return (unsigned)(f->device - 0x1040) == type;
	return f->device >= 0x1000 && f->device <= 0x103F && f->subsys_device == type;
}

static volatile uint8_t *map_bar_region(const struct pci_fn *f, unsigned bar, uint32_t off, uint32_t len)
{
	if (bar > 5 || pci_bar_is_io(f, bar))
		return 0;
	uint64_t base = pci_bar_addr(f, bar);
	if (!base)
		return 0;
	return (volatile uint8_t *)pci_map_mmio(base + off, len ? len : 1);
}

static void read_caps(struct vdev *d)
{
	const struct pci_fn *f = &d->fn;

	for (unsigned pos = pci_find_cap(f, PCI_CAP_ID_VENDOR, 0); pos;
	     pos = pci_find_cap(f, PCI_CAP_ID_VENDOR, pos)) {
		unsigned type = pci_read(f, pos + 3, 1), bar = pci_read(f, pos + 4, 1);
		uint32_t off = pci_read(f, pos + 8, 4), len = pci_read(f, pos + 12, 4);
		volatile uint8_t *p = map_bar_region(f, bar, off, len);
		kprintf("%s: cap 0x%02x cfg_type %u bar %u offset 0x%x length 0x%x\n", d->name, pos, type, bar,
			off, len);
		if (type == CAP_COMMON && !d->common)
			d->common = p;
		else if (type == CAP_ISR && !d->isr)
			d->isr = p;
		else if (type == CAP_DEVICE && !d->devcfg)
			d->devcfg = p;
		else if (type == CAP_NOTIFY && !d->notify_base) {
			d->notify_base = p;
			d->notify_mult = pci_read(f, pos + 16, 4);
		}
	}
	d->msix_cap = pci_find_cap(f, PCI_CAP_ID_MSIX, 0);
	if (d->msix_cap) {
		uint32_t table = pci_read(f, d->msix_cap + 4, 4);
		d->msix_n = (pci_read(f, d->msix_cap + 2, 2) & 0x7FF) + 1;
		d->msix_table = (volatile uint32_t *)map_bar_region(f, table & 7, table & ~7u,
								    d->msix_n * 16);
		kprintf("%s: msi-x cap 0x%02x, %u entries, table bar %u offset 0x%x\n", d->name,
			d->msix_cap, d->msix_n, table & 7, table & ~7u);
	}
}

const char *vdev_probe(struct vdev *d, const struct pci_host *h, unsigned type, const char *name)
{
	int found = 0;

	memset(d, 0, sizeof(*d));
	d->name = name;
	for (uint8_t dev = 0; dev < 32 && !found; dev++) {
		struct pci_fn f = { .host = h, .dev = dev };
		f.vendor = (uint16_t)pci_read(&f, 0, 2);
		f.device = (uint16_t)pci_read(&f, 2, 2);
		f.subsys_device = (uint16_t)pci_read(&f, 0x2E, 2);
		if (is_virtio_of_type(&f, type)) {
			d->fn = f;
			found = 1;
		}
	}
	if (!found)
		return "no such virtio PCI function on bus 0";
	kprintf("%s: 00:%02x.0 %04x:%04x bar0 0x%lx bar2 0x%lx bar4 0x%lx\n", name, d->fn.dev,
		d->fn.vendor, d->fn.device, pci_bar_addr(&d->fn, 0), pci_bar_addr(&d->fn, 2),
		pci_bar_addr(&d->fn, 4));
	/* decode is on already; DMA needs bus mastering, and INTx stays off */
	pci_write(&d->fn, PCI_COMMAND, 2, pci_read(&d->fn, PCI_COMMAND, 2) | PCI_COMMAND_MEM |
		  PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	read_caps(d);
	if (!d->common || !d->notify_base || !d->isr)
		return "common, notify or ISR capability missing or unmappable";
	/* Only devices with configuration fields have a DEVICE_CFG capability
	 * (virtio 1.2 §4.1.4.6): entropy has none. */
	return 0;
}

uint8_t vdev_status(const struct vdev *d)
{
	return (uint8_t)mmio_read(d->common, CC_STATUS, 1);
}

static void set_status(struct vdev *d, uint8_t bits)
{
	mmio_write(d->common, CC_STATUS, 1, vdev_status(d) | bits);
}

void vdev_reset(struct vdev *d)
{
	mmio_write(d->common, CC_STATUS, 1, 0);
	/* the reset is complete once the device reads back 0 */
	uint64_t t0 = rdtsc();
	while (vdev_status(d) && rdtsc() - t0 < WAIT_CYCLES)
		cpu_relax();
}

uint64_t vdev_cfg_read(const struct vdev *d, unsigned off, unsigned size)
{
	if (!d->devcfg)
		return ~0ULL; /* no configuration capability: callers check devcfg first */
	if (size == 8)
		return mmio_read(d->devcfg, off, 4) | (uint64_t)mmio_read(d->devcfg, off + 4, 4) << 32;
	return mmio_read(d->devcfg, off, size);
}

static uint64_t read_features(struct vdev *d)
{
	mmio_write(d->common, CC_DFSELECT, 4, 0);
	uint64_t lo = mmio_read(d->common, CC_DF, 4);
	mmio_write(d->common, CC_DFSELECT, 4, 1);
	return lo | (uint64_t)mmio_read(d->common, CC_DF, 4) << 32;
}

static void write_features(struct vdev *d, uint64_t f)
{
	mmio_write(d->common, CC_GFSELECT, 4, 0);
	mmio_write(d->common, CC_GF, 4, (uint32_t)f);
	mmio_write(d->common, CC_GFSELECT, 4, 1);
	mmio_write(d->common, CC_GF, 4, (uint32_t)(f >> 32));
}

unsigned vdev_queue_vector(const struct vdev *d)
{
	return IRQ_VEC_FIRST + 2 * (d->fn.dev % (IRQ_NR_VECS / 2)) + 1;
}

static void msix_program(struct vdev *d, unsigned entry, unsigned vector)
{
	volatile uint32_t *e = d->msix_table + entry * MSIX_ENTRY_WORDS;
	uint64_t addr = irq_msi_address();

	e[0] = (uint32_t)addr;
	e[1] = (uint32_t)(addr >> 32);
	e[2] = irq_msi_data(vector);
	e[3] = 0; /* unmasked */
}

static const char *setup_msix(struct vdev *d)
{
	if (!d->msix_table || d->msix_n < 2)
		return "no MSI-X table with 2 entries";
	msix_program(d, 0, vdev_queue_vector(d) - 1);
	msix_program(d, 1, vdev_queue_vector(d));
	uint16_t ctrl = (uint16_t)pci_read(&d->fn, d->msix_cap + 2, 2);
	pci_write(&d->fn, d->msix_cap + 2, 2, (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL);
	mmio_write(d->common, CC_MSIX, 2, 0);
	if (mmio_read(d->common, CC_MSIX, 2) != 0)
		return "the device refused MSI-X entry 0 for configuration changes";
	return 0;
}

static void vq_clear(struct vq *q)
{
	volatile uint16_t *notify = q->notify;
	memset(q, 0, sizeof(*q));
	q->notify = notify;
	q->avail_wrap = q->used_wrap = 1;
}

static const char *setup_queue(struct vdev *d)
{
	struct vq *q = &d->vq;

	vq_clear(q);
	mmio_write(d->common, CC_Q_SELECT, 2, 0);
	uint32_t max = mmio_read(d->common, CC_Q_SIZE, 2);
	if (!max)
		return "queue 0 has size 0";
	q->size = max < VQ_MAX ? (uint16_t)max : VQ_MAX;
	mmio_write(d->common, CC_Q_SIZE, 2, q->size);
	q->msix = d->use_irq ? 1 : NO_VECTOR;
	mmio_write(d->common, CC_Q_MSIX, 2, q->msix);
	if (mmio_read(d->common, CC_Q_MSIX, 2) != q->msix)
		return "the device refused the queue's MSI-X entry";
	uint32_t noff = mmio_read(d->common, CC_Q_NOFF, 2);
	q->notify = (volatile uint16_t *)(d->notify_base + noff * d->notify_mult);
	cc_write64(d, CC_Q_DESC, (uint64_t)(uintptr_t)q->desc);
	if (d->packed) {
		cc_write64(d, CC_Q_DRIVER, (uint64_t)(uintptr_t)&q->drv_event);
		cc_write64(d, CC_Q_DEVICE, (uint64_t)(uintptr_t)&q->dev_event);
		q->drv_event.flags = d->use_irq ? (d->event_idx ? EVENT_DESC : EVENT_ENABLE) : EVENT_DISABLE;
	} else {
		cc_write64(d, CC_Q_DRIVER, (uint64_t)(uintptr_t)&q->avail);
		cc_write64(d, CC_Q_DEVICE, (uint64_t)(uintptr_t)&q->used);
		q->avail.flags = d->use_irq || d->event_idx ? 0 : AVAIL_F_NO_INTERRUPT;
		if (d->event_idx && !d->use_irq)
			q->avail.ring[q->size] = 0x8000; /* used_event far away: no interrupts */
	}
	mmio_write(d->common, CC_Q_ENABLE, 2, 1);
	return 0;
}

const char *vdev_start(struct vdev *d, uint64_t want, int use_irq)
{
	const char *err;

	vdev_reset(d);
	if (vdev_status(d))
		return "the device did not reset (status stays non-zero)";
	set_status(d, ST_ACKNOWLEDGE);
	set_status(d, ST_DRIVER);
	d->offered = read_features(d);
	if (!(d->offered & (1ULL << VIRTIO_F_VERSION_1)))
		return "VERSION_1 not offered";
	d->features = (d->offered & want) | (1ULL << VIRTIO_F_VERSION_1);
	d->packed = !!(d->features & (1ULL << VIRTIO_F_RING_PACKED));
	d->indirect = !!(d->features & (1ULL << VIRTIO_F_INDIRECT_DESC));
	d->event_idx = !!(d->features & (1ULL << VIRTIO_F_EVENT_IDX));
	d->use_irq = use_irq;
	kprintf("%s: features offered 0x%lx, accepted 0x%lx (%s ring%s%s, %s)\n", d->name, d->offered,
		d->features, d->packed ? "packed" : "split", d->indirect ? ", indirect" : "",
		d->event_idx ? ", event_idx" : "", use_irq ? "msi-x" : "polled");
	write_features(d, d->features);
	set_status(d, ST_FEATURES_OK);
	if (!(vdev_status(d) & ST_FEATURES_OK))
		return "FEATURES_OK did not stick";
	if (use_irq && (err = setup_msix(d)))
		return err;
	if ((err = setup_queue(d)))
		return err;
	set_status(d, ST_DRIVER_OK);
	if (vdev_status(d) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		return "the device reports NEEDS_RESET or FAILED after DRIVER_OK";
	return 0;
}

/* vring_need_event of the spec: did new_idx pass event since old? */
static int need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* le16 avail_event right after the used ring's `size` entries */
static uint16_t avail_event(const struct vq *q)
{
	return *(const volatile uint16_t *)((uintptr_t)&q->used + 4 + 8 * (uintptr_t)q->size);
}

static void notify(struct vdev *d)
{
	struct vq *q = &d->vq;
	int kick;

	mb();
	if (d->packed)
		kick = ((volatile uint16_t *)&q->dev_event.flags)[0] != EVENT_DISABLE;
	else if (d->event_idx)
		kick = need_event(avail_event(q), q->avail_idx,
				  (uint16_t)(q->avail_idx - 1));
	else
		kick = !(*(volatile uint16_t *)&q->used.flags & USED_F_NO_NOTIFY);
	if (kick)
		*q->notify = 0;
}

static void fill_split(struct vring_desc *t, const struct vbuf *bufs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		t[i] = (struct vring_desc){ bufs[i].addr, bufs[i].len,
			(uint16_t)((bufs[i].device_writes ? DESC_F_WRITE : 0) | (i + 1 < n ? DESC_F_NEXT : 0)),
			(uint16_t)(i + 1) };
}

static void submit_split(struct vdev *d, const struct vbuf *bufs, unsigned n, int indirect)
{
	struct vq *q = &d->vq;

	if (indirect) {
		fill_split(q->indirect, bufs, n);
		q->desc[0] = (struct vring_desc){ (uint64_t)(uintptr_t)q->indirect,
						  n * (uint32_t)sizeof(struct vring_desc), DESC_F_INDIRECT, 0 };
	} else {
		fill_split(q->desc, bufs, n);
	}
	if (d->event_idx && d->use_irq)
		q->avail.ring[q->size] = q->last_used; /* interrupt for the next used entry */
	q->avail.ring[q->avail_idx % q->size] = 0;
	mb();
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail.idx = q->avail_idx;
	notify(d);
}

static uint16_t packed_flags(int wrap, int write, int next)
{
	return (uint16_t)((wrap ? DESC_F_AVAIL : DESC_F_USED) | (write ? DESC_F_WRITE : 0) |
			  (next ? DESC_F_NEXT : 0));
}

static void submit_packed(struct vdev *d, const struct vbuf *bufs, unsigned n, int indirect)
{
	struct vq *q = &d->vq;
	uint16_t id = q->next_avail, head = q->next_avail, head_flags = 0;
	unsigned slots = indirect ? 1 : n;

	if (indirect) {
		for (unsigned i = 0; i < n; i++)
			q->indirect[i] = (struct vring_desc){ bufs[i].addr, bufs[i].len, 0,
							      bufs[i].device_writes ? DESC_F_WRITE : 0 };
	}
	for (unsigned i = 0; i < slots; i++) {
		struct vring_desc *dsc = &q->desc[q->next_avail];
		uint16_t flags;
		if (indirect) {
			dsc->addr = (uint64_t)(uintptr_t)q->indirect;
			dsc->len = n * (uint32_t)sizeof(struct vring_desc);
			flags = packed_flags(q->avail_wrap, 0, 0) | DESC_F_INDIRECT;
		} else {
			dsc->addr = bufs[i].addr;
			dsc->len = bufs[i].len;
			flags = packed_flags(q->avail_wrap, bufs[i].device_writes, i + 1 < n);
		}
		dsc->flags = id; /* packed layout: id then flags */
		if (i == 0)
			head_flags = flags;
		else
			*(volatile uint16_t *)&dsc->next = flags;
		if (++q->next_avail == q->size) {
			q->next_avail = 0;
			q->avail_wrap = !q->avail_wrap;
		}
	}
	q->chain_len[id] = (uint16_t)slots;
	if (d->event_idx && d->use_irq)
		q->drv_event.off_wrap = (uint16_t)(q->next_used | (q->used_wrap ? 0x8000 : 0));
	/* the head's flags make the whole chain available: written last */
	mb();
	*(volatile uint16_t *)&q->desc[head].next = head_flags;
	notify(d);
}

void vq_submit(struct vdev *d, const struct vbuf *bufs, unsigned n)
{
	int indirect = d->indirect && n > 1;

	if (d->use_irq)
		d->irqs_before = irq_count(vdev_queue_vector(d));

	if (d->packed)
		submit_packed(d, bufs, n, indirect);
	else
		submit_split(d, bufs, n, indirect);
}

static int used_ready(void *arg)
{
	struct vdev *d = arg;
	struct vq *q = &d->vq;

	if (d->packed) {
		uint16_t flags = *(volatile uint16_t *)&q->desc[q->next_used].next;
		int avail = !!(flags & DESC_F_AVAIL), used = !!(flags & DESC_F_USED);
		return avail == used && used == q->used_wrap;
	}
	return *(volatile uint16_t *)&q->used.idx != q->last_used;
}

static uint32_t consume_used(struct vdev *d)
{
	struct vq *q = &d->vq;
	uint32_t len;

	mb();
	if (d->packed) {
		struct vring_desc *u = &q->desc[q->next_used];
		uint16_t id = u->flags;
		len = u->len;
		unsigned n = id < VQ_MAX && q->chain_len[id] ? q->chain_len[id] : 1;
		for (unsigned i = 0; i < n; i++) {
			if (++q->next_used == q->size) {
				q->next_used = 0;
				q->used_wrap = !q->used_wrap;
			}
		}
		return len;
	}
	len = q->used.ring[q->last_used % q->size].len;
	q->last_used++;
	return len;
}

/* An interrupt arrived since the submission and the used entry is there: a
 * backend may signal once spuriously when its call eventfd is set up
 * (qemu-storage-daemon does), which must not count as the completion. */
static int irq_arrived(void *arg)
{
	struct vdev *d = arg;

	return irq_count(vdev_queue_vector(d)) != d->irqs_before && used_ready(d);
}

/* In interrupt mode the completion must be signalled: the wait ends on the
 * queue's MSI-X vector, and the used entry must be there by then (the
 * device writes it before it interrupts). */
int vq_wait(struct vdev *d, uint32_t *len)
{
	uint64_t t0 = rdtsc();

	if (d->use_irq && !irq_wait_flag(irq_arrived, d, WAIT_CYCLES)) {
		kprintf("%s: no MSI-X interrupt on vector 0x%x (used entry %s)\n", d->name,
			vdev_queue_vector(d), used_ready(d) ? "present" : "absent");
		return 0;
	}
	while (!used_ready(d))
		if (rdtsc() - t0 > WAIT_CYCLES || d->use_irq)
			return 0;
	*len = consume_used(d);
	return 1;
}

int vq_transfer(struct vdev *d, const struct vbuf *bufs, unsigned n, uint32_t *len)
{
	vq_submit(d, bufs, n);
	return vq_wait(d, len);
}

void vq_submit_loop(struct vdev *d)
{
	struct vq *q = &d->vq;
	static uint8_t scratch[64] __attribute__((aligned(16)));

	q->desc[0] = (struct vring_desc){ (uint64_t)(uintptr_t)scratch, 16, DESC_F_NEXT, 1 };
	q->desc[1] = (struct vring_desc){ (uint64_t)(uintptr_t)scratch + 16, 16, DESC_F_NEXT, 0 };
	q->avail.ring[q->avail_idx % q->size] = 0;
	mb();
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail.idx = q->avail_idx;
	mb();
	*q->notify = 0;
}

void vq_submit_avail_jump(struct vdev *d)
{
	struct vq *q = &d->vq;

	q->avail_idx = (uint16_t)(q->avail_idx + q->size + 1);
	mb();
	*(volatile uint16_t *)&q->avail.idx = q->avail_idx;
	mb();
	*q->notify = 0;
}

int vdev_wait_needs_reset(const struct vdev *d)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < WAIT_CYCLES) {
		if (vdev_status(d) & VIRTIO_STATUS_NEEDS_RESET)
			return 1;
		spin_cycles(100000);
	}
	return 0;
}
