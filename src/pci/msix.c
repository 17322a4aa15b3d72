#include "pci/msix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define CAP_LEN 12

struct msix *msix_create(unsigned nr, const struct msi_sink *sink)
{
	if (nr == 0 || nr > MSIX_MAX_VECTORS)
		return NULL;
	struct msix *x = xcalloc(1, sizeof(*x));
	pthread_mutex_init(&x->lock, NULL);
	x->nr = nr;
	x->table = xcalloc(nr, sizeof(x->table[0]));
	x->pba = xcalloc(msix_pba_size(nr) / 8, sizeof(uint64_t));
	x->sent = xcalloc(nr, sizeof(x->sent[0]));
	x->sink = *sink;
	for (unsigned v = 0; v < nr; v++)
		x->table[v].ctrl = MSIX_VECTOR_MASKED;
	return x;
}

void msix_destroy(struct msix *x)
{
	if (!x)
		return;
	pthread_mutex_destroy(&x->lock);
	free(x->table);
	free(x->pba);
	free(x->sent);
	free(x);
}

static bool vector_masked(const struct msix *x, unsigned v)
{
	return !x->enabled || x->fmask || (x->table[v].ctrl & MSIX_VECTOR_MASKED);
}

static bool pending(const struct msix *x, unsigned v)
{
	return x->pba[v / 64] & (1ULL << (v % 64));
}

static void set_pending(struct msix *x, unsigned v, bool on)
{
	if (on)
		x->pba[v / 64] |= 1ULL << (v % 64);
	else
		x->pba[v / 64] &= ~(1ULL << (v % 64));
}

/* Tells the sink what changed for vector v, then delivers a message that
 * was held back while v was masked. Lock held. */
static void sync_vector(struct msix *x, unsigned v)
{
	const struct msix_entry *e = &x->table[v];
	struct msix_sent now = {
		.valid = true,
		.masked = vector_masked(x, v),
		.addr = (uint64_t)e->addr_hi << 32 | e->addr_lo,
		.data = e->data,
	};
	struct msix_sent *s = &x->sent[v];
	if (!s->valid || s->masked != now.masked || s->addr != now.addr || s->data != now.data) {
		if (x->sink.update)
			x->sink.update(x->sink.ctx, v, now.addr, now.data, now.masked);
		*s = now;
	}
	if (!now.masked && pending(x, v)) {
		set_pending(x, v, false);
		if (x->sink.fire)
			x->sink.fire(x->sink.ctx, v);
	}
}

static void sync_all(struct msix *x)
{
	for (unsigned v = 0; v < x->nr; v++)
		sync_vector(x, v);
}

/* Message Control changed in config space (cfg lock held). */
static void control_written(void *ctx, struct pci_config *cfg, unsigned off, unsigned size)
{
	struct msix *x = ctx;
	if (off + size <= 2 || off >= 4)
		return;
	uint16_t ctrl = (uint16_t)pci_cfg_get(cfg, x->cap_off + 2, 2);
	pthread_mutex_lock(&x->lock);
	bool changed = x->enabled != !!(ctrl & MSIX_CTRL_ENABLE) ||
		       x->fmask != !!(ctrl & MSIX_CTRL_FMASK);
	x->enabled = ctrl & MSIX_CTRL_ENABLE;
	x->fmask = ctrl & MSIX_CTRL_FMASK;
	if (changed)
		sync_all(x);
	pthread_mutex_unlock(&x->lock);
}

static const struct pci_cap_hook msix_cap_hook = { .after_write = control_written };

int msix_add_cap(struct msix *x, struct pci_config *cfg, unsigned table_bar, uint32_t table_off,
		 unsigned pba_bar, uint32_t pba_off)
{
	if (table_bar >= PCI_NR_BARS || pba_bar >= PCI_NR_BARS || (table_off & 7) || (pba_off & 7))
		return -EINVAL;
	uint8_t body[CAP_LEN] = { PCI_CAP_ID_MSIX, 0 };
	uint8_t wmask[CAP_LEN] = { 0 };
	uint16_t ctrl = (uint16_t)(x->nr - 1);
	body[2] = (uint8_t)ctrl;
	body[3] = (uint8_t)(ctrl >> 8);
	uint32_t t = table_off | table_bar, p = pba_off | pba_bar;
	for (unsigned i = 0; i < 4; i++) {
		body[4 + i] = (uint8_t)(t >> (8 * i));
		body[8 + i] = (uint8_t)(p >> (8 * i));
	}
	wmask[3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK) >> 8;
	unsigned off = pci_config_add_cap(cfg, body, CAP_LEN, wmask, &msix_cap_hook, x);
	if (!off)
		return -ENOSPC;
	x->cfg = cfg;
	x->cap_off = off;
	return (int)off;
}

static uint32_t entry_dword(const struct msix_entry *e, unsigned i)
{
	const uint32_t d[4] = { e->addr_lo, e->addr_hi, e->data, e->ctrl };
	return d[i];
}

static void set_entry_dword(struct msix_entry *e, unsigned i, uint32_t val)
{
	switch (i) {
	case 0:
		e->addr_lo = val & ~0x3U; /* messages are dword aligned */
		break;
	case 1:
		e->addr_hi = val;
		break;
	case 2:
		e->data = val;
		break;
	default:
		e->ctrl = val & MSIX_VECTOR_MASKED; /* the rest is reserved */
		break;
	}
}

static uint8_t table_byte(const struct msix *x, uint64_t off)
{
	const struct msix_entry *e = &x->table[off / MSIX_ENTRY_SIZE];
	return (uint8_t)(entry_dword(e, (off % MSIX_ENTRY_SIZE) / 4) >> (8 * (off % 4)));
}

uint64_t msix_table_read(struct msix *x, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	pthread_mutex_lock(&x->lock);
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t o = off + i;
		uint8_t b = o < msix_table_size(x->nr) ? table_byte(x, o) : 0xFF;
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&x->lock);
	return v;
}

void msix_table_write(struct msix *x, uint64_t off, unsigned size, uint64_t val)
{
	pthread_mutex_lock(&x->lock);
	unsigned touched_first = UINT32_MAX, touched_last = 0;
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t o = off + i;
		if (o >= msix_table_size(x->nr))
			break;
		unsigned v = (unsigned)(o / MSIX_ENTRY_SIZE), d = (o % MSIX_ENTRY_SIZE) / 4;
		unsigned shift = 8 * (o % 4);
		struct msix_entry *e = &x->table[v];
		uint32_t dw = entry_dword(e, d);
		dw = (dw & ~(0xFFU << shift)) | (uint32_t)((val >> (8 * i)) & 0xFF) << shift;
		set_entry_dword(e, d, dw);
		touched_first = MIN(touched_first, v);
		touched_last = MAX(touched_last, v);
	}
	for (unsigned v = touched_first; v <= touched_last && touched_first != UINT32_MAX; v++)
		sync_vector(x, v);
	pthread_mutex_unlock(&x->lock);
}

uint64_t msix_pba_read(struct msix *x, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	pthread_mutex_lock(&x->lock);
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t o = off + i;
		uint8_t b = o < msix_pba_size(x->nr) ? (uint8_t)(x->pba[o / 8] >> (8 * (o % 8))) : 0;
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&x->lock);
	return v;
}

static uint64_t table_io_read(void *dev, uint64_t off, unsigned size)
{
	return msix_table_read(dev, off, size);
}

static void table_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	msix_table_write(dev, off, size, val);
}

static uint64_t pba_io_read(void *dev, uint64_t off, unsigned size)
{
	return msix_pba_read(dev, off, size);
}

static void pba_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)dev, (void)off, (void)size, (void)val;
}

const struct io_ops msix_table_ops = { .read = table_io_read, .write = table_io_write };
const struct io_ops msix_pba_ops = { .read = pba_io_read, .write = pba_io_write };

bool msix_notify(struct msix *x, unsigned vector)
{
	if (vector >= x->nr)
		return false;
	pthread_mutex_lock(&x->lock);
	bool enabled = x->enabled;
	if (!enabled)
		; /* no message while MSI-X is off */
	else if (vector_masked(x, vector))
		set_pending(x, vector, true);
	else if (x->sink.fire)
		x->sink.fire(x->sink.ctx, vector);
	pthread_mutex_unlock(&x->lock);
	return enabled;
}

bool msix_enabled(struct msix *x)
{
	pthread_mutex_lock(&x->lock);
	bool on = x->enabled;
	pthread_mutex_unlock(&x->lock);
	return on;
}

void msix_reset(struct msix *x)
{
	if (x->cfg)
		pthread_mutex_lock(&x->cfg->lock);
	pthread_mutex_lock(&x->lock);
	if (x->cfg)
		x->cfg->data[x->cap_off + 3] &= (uint8_t)~((MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK) >> 8);
	x->enabled = x->fmask = false;
	for (unsigned v = 0; v < x->nr; v++)
		x->table[v] = (struct msix_entry){ .ctrl = MSIX_VECTOR_MASKED };
	memset(x->pba, 0, msix_pba_size(x->nr));
	sync_all(x);
	pthread_mutex_unlock(&x->lock);
	if (x->cfg)
		pthread_mutex_unlock(&x->cfg->lock);
}
