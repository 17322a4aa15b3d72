#include "virtio/virtq.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "util/log.h"
#include "util/util.h"
#include "virtio/virtio_spec.h"

/* Memory ordering, device side (the driver runs concurrently on a vCPU):
 * - pop: the avail idx (split) or descriptor flags (packed) are loaded with
 *   acquire, pairing with the driver's write barrier before it publishes
 *   them, so the ring entry and descriptor contents read next are current.
 * - push: the used idx (split) or used descriptor flags (packed) are stored
 *   with release, so the used element and the bytes the device wrote into
 *   the buffers are visible before the driver can see the buffer as used.
 * - needs_notify / enable_notify: a store (used idx, avail_event/flags) is
 *   followed by a load the driver races with (used_event/flags, avail idx);
 *   only a full seq_cst fence orders a store before a later load.
 * Guest memory is accessed with GCC/Clang __atomic builtins on naturally
 * aligned fields, each field loaded once into a local: the compiler may not
 * re-read it, so a value checked is the value used. */

static uint16_t ld16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, order));
}

static void st16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), order);
}

static void st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

/* A descriptor as two little-endian words: the address, then len plus two
 * 16-bit fields (split: flags, next; packed: id, flags). Indirect tables have
 * no alignment rule we can rely on, hence the bytewise volatile fallback. */
struct raw_desc {
	uint64_t addr;
	uint64_t rest;
};

static struct raw_desc load_desc(const uint8_t *p, int order)
{
	uint64_t w[2];
	if (((uintptr_t)p & 7) == 0) {
		w[1] = __atomic_load_n((const uint64_t *)(const void *)(p + 8), order);
		w[0] = __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
	} else {
		const volatile uint8_t *v = p;
		uint8_t b[VIRTQ_DESC_SIZE];
		for (unsigned i = 0; i < sizeof(b); i++)
			b[i] = v[i];
		memcpy(w, b, sizeof(b));
	}
	return (struct raw_desc){ .addr = le64toh(w[0]), .rest = le64toh(w[1]) };
}

static uint32_t desc_len(struct raw_desc d) { return (uint32_t)d.rest; }
static uint16_t desc_mid(struct raw_desc d) { return (uint16_t)(d.rest >> 32); }
static uint16_t desc_top(struct raw_desc d) { return (uint16_t)(d.rest >> 48); }

static int fail(struct virtq *q, const char *why)
{
	if (!q->broken)
		log_warn("virtq: malformed %s queue: %s; queue stopped until reset",
			 q->format == VIRTQ_PACKED ? "packed" : "split", why);
	q->broken = true;
	return -1;
}

/* ---- chain building, shared by both formats ---- */

struct walk {
	struct virtq *q;
	struct virtq_chain *c;
	unsigned budget; /* segments still allowed (VIRTQ_MAX_SIZE): bounds indirect loops */
	bool seen_write;
	uint64_t total;
	const char *why;
};

static bool add_segment(struct walk *w, uint64_t addr, uint32_t len, bool write)
{
	if (w->budget == 0) {
		w->why = "chain longer than the queue size (loop?)";
		return false;
	}
	w->budget--;
	if (!write && w->seen_write) {
		w->why = "readable descriptor after a writable one";
		return false;
	}
	w->total += len;
	if (w->total > UINT32_MAX) {
		w->why = "chain of 4 GiB or more";
		return false;
	}
	void *host = gm_ptr(w->q->gm, addr, len);
	if (!host) {
		w->why = "buffer outside guest RAM";
		return false;
	}
	struct virtq_chain *c = w->c;
	c->seg[c->nseg++] = (struct virtq_seg){ .host = host, .len = len, .write = write };
	if (write) {
		w->seen_write = true;
		c->writable += len;
	} else {
		c->nread++;
		c->readable += len;
	}
	return true;
}

/* Host view of an indirect table after the checks both formats share. */
static const uint8_t *map_indirect(struct walk *w, uint64_t addr, uint32_t len,
				   unsigned *entries)
{
	if (!w->q->indirect) {
		w->why = "INDIRECT flag without VIRTIO_F_INDIRECT_DESC";
		return NULL;
	}
	/* Not bounded by the ring size: Linux sizes indirect tables by the
	 * device's seg_max (QEMU's frontend pairs 128-entry rings with 256-entry
	 * tables), so the bound is the most segments a chain may have. */
	if (len == 0 || len % VIRTQ_DESC_SIZE || len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SIZE) {
		w->why = "indirect table length not a multiple of 16 in [16, 16 * VIRTQ_MAX_SIZE]";
		return NULL;
	}
	const uint8_t *table = gm_ptr(w->q->gm, addr, len);
	if (!table) {
		w->why = "indirect table outside guest RAM";
		return NULL;
	}
	*entries = len / VIRTQ_DESC_SIZE;
	return table;
}

static void chain_clear(struct virtq_chain *c)
{
	c->id = 0;
	c->ndesc = 0;
	c->nseg = 0;
	c->nread = 0;
	c->readable = 0;
	c->writable = 0;
}

/* ---- split ring ---- */

/* Split indirect tables are linked with NEXT like the main table, starting
 * at entry 0; the segment budget stops loops inside them. */
static bool walk_split_indirect(struct walk *w, struct raw_desc ind)
{
	unsigned n;
	const uint8_t *table = map_indirect(w, ind.addr, desc_len(ind), &n);
	if (!table)
		return false;
	for (unsigned i = 0;;) {
		struct raw_desc d = load_desc(table + (size_t)i * VIRTQ_DESC_SIZE, __ATOMIC_RELAXED);
		uint16_t flags = desc_mid(d), next = desc_top(d);
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			w->why = "indirect descriptor inside an indirect table";
			return false;
		}
		if (!add_segment(w, d.addr, desc_len(d), flags & VIRTQ_DESC_F_WRITE))
			return false;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return true;
		if (next >= n) {
			w->why = "indirect next index past the table";
			return false;
		}
		i = next;
	}
}

/* Follows the chain from `head`. A chain may end in one indirect descriptor;
 * every other descriptor adds a segment, so the budget also bounds the hops. */
static bool walk_split(struct walk *w, uint16_t head)
{
	struct virtq *q = w->q;
	for (uint16_t i = head;;) {
		struct raw_desc d = load_desc(q->desc + (size_t)i * VIRTQ_DESC_SIZE, __ATOMIC_RELAXED);
		uint16_t flags = desc_mid(d), next = desc_top(d);
		if (++w->c->ndesc > q->size) {
			w->why = "chain longer than the queue size (loop?)";
			return false;
		}
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (flags & VIRTQ_DESC_F_NEXT) {
				w->why = "INDIRECT together with NEXT";
				return false;
			}
			return walk_split_indirect(w, d);
		}
		if (!add_segment(w, d.addr, desc_len(d), flags & VIRTQ_DESC_F_WRITE))
			return false;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return true;
		if (next >= q->size) {
			w->why = "next index past the queue size";
			return false;
		}
		i = next;
	}
}

static int pop_split(struct virtq *q, struct virtq_chain *c)
{
	uint16_t avail_idx = ld16(q->driver + VIRTQ_AVAIL_IDX, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return fail(q, "avail idx more than the queue size ahead");
	uint16_t slot = q->last_avail & (q->size - 1);
	uint16_t head = ld16(q->driver + VIRTQ_AVAIL_RING(slot), __ATOMIC_RELAXED);
	if (head >= q->size)
		return fail(q, "head index past the queue size");

	chain_clear(c);
	c->id = head;
	struct walk w = { .q = q, .c = c, .budget = VIRTQ_MAX_SIZE };
	if (!walk_split(&w, head))
		return fail(q, w.why);
	q->last_avail++;
	/* Keeps kicks coming while the device is not polling (see enable). */
	if (q->notify_enabled && q->event_idx)
		st16(q->device + VIRTQ_USED_RING(q->size), q->last_avail, __ATOMIC_RELAXED);
	return 1;
}

static void push_split(struct virtq *q, const struct virtq_chain *c, uint32_t written)
{
	uint8_t *elem = q->device + VIRTQ_USED_RING(q->used_idx & (q->size - 1));
	st32(elem, c->id);
	st32(elem + 4, written);
	q->used_idx++;
	st16(q->device + VIRTQ_USED_IDX, q->used_idx, __ATOMIC_RELEASE);
}

/* vring_need_event of the spec: did [old, new) pass `event`? All three are
 * positions on one 16-bit circle. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

static bool needs_notify_split(struct virtq *q)
{
	uint16_t old_idx = q->signalled_used, new_idx = q->used_idx;
	q->signalled_used = new_idx;
	if (old_idx == new_idx)
		return false;
	if (q->event_idx) {
		uint16_t used_event = ld16(q->driver + VIRTQ_AVAIL_RING(q->size), __ATOMIC_RELAXED);
		return need_event(used_event, new_idx, old_idx);
	}
	return !(ld16(q->driver + VIRTQ_AVAIL_FLAGS, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* ---- packed ring ---- */

static bool packed_avail(uint16_t flags, bool wrap)
{
	bool avail = flags & VIRTQ_DESC_F_AVAIL, used = flags & VIRTQ_DESC_F_USED;
	return avail == wrap && used != wrap;
}

static void packed_advance(const struct virtq *q, uint16_t *pos, bool *wrap, uint16_t n)
{
	*pos = (uint16_t)(*pos + n);
	if (*pos >= q->size) {
		*pos = (uint16_t)(*pos - q->size);
		*wrap = !*wrap;
	}
}

/* Packed indirect tables are sequential: WRITE is the only meaningful flag
 * (NEXT is ignored, as the spec says), INDIRECT is refused. */
static bool walk_packed_indirect(struct walk *w, struct raw_desc ind)
{
	unsigned n;
	const uint8_t *table = map_indirect(w, ind.addr, desc_len(ind), &n);
	if (!table)
		return false;
	for (unsigned i = 0; i < n; i++) {
		struct raw_desc d = load_desc(table + (size_t)i * VIRTQ_DESC_SIZE, __ATOMIC_RELAXED);
		uint16_t flags = desc_top(d);
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			w->why = "indirect descriptor inside an indirect table";
			return false;
		}
		if (!add_segment(w, d.addr, desc_len(d), flags & VIRTQ_DESC_F_WRITE))
			return false;
	}
	return true;
}

static int pop_packed(struct virtq *q, struct virtq_chain *c)
{
	uint16_t pos = q->last_avail;
	bool wrap = q->avail_wrap;
	struct walk w = { .q = q, .c = c, .budget = VIRTQ_MAX_SIZE };
	for (uint16_t n = 0;; n++) {
		/* Wrapping back onto the head flips the wrap counter, so the head
		 * then looks unavailable; this also covers a head the driver
		 * rewrites meanwhile. */
		if (n == q->size)
			return fail(q, "chain longer than the ring");
		/* acquire on each descriptor's flags word: its other fields and
		 * those of the following descriptors were written before it. */
		struct raw_desc d = load_desc(q->desc + (size_t)pos * VIRTQ_DESC_SIZE, __ATOMIC_ACQUIRE);
		uint16_t flags = desc_top(d);
		if (!packed_avail(flags, wrap)) {
			if (n == 0)
				return 0;
			return fail(q, "chain runs into a descriptor that is not available");
		}
		if (n == 0)
			chain_clear(c); /* only now: a pop returning 0 leaves *c alone */
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (n > 0 || (flags & VIRTQ_DESC_F_NEXT))
				return fail(q, "indirect descriptor inside a chain");
			if (!walk_packed_indirect(&w, d))
				return fail(q, w.why);
		} else if (!add_segment(&w, d.addr, desc_len(d), flags & VIRTQ_DESC_F_WRITE)) {
			return fail(q, w.why);
		}
		c->id = desc_mid(d); /* the buffer id is in the last descriptor */
		packed_advance(q, &pos, &wrap, 1);
		if (!(flags & VIRTQ_DESC_F_NEXT)) {
			c->ndesc = (uint16_t)(n + 1);
			break;
		}
	}
	q->last_avail = pos;
	q->avail_wrap = wrap;
	if (q->notify_enabled && q->event_idx)
		st16(q->device + VIRTQ_EVENT_OFF_WRAP,
		     (uint16_t)(pos | (wrap ? VIRTQ_EVENT_WRAP_BIT : 0)), __ATOMIC_RELAXED);
	return 1;
}

static void push_packed(struct virtq *q, const struct virtq_chain *c, uint32_t written)
{
	if (c->ndesc == 0 || c->ndesc > q->size) {
		log_error("virtq: push of a chain that was not popped (%u slots)", c->ndesc);
		return;
	}
	uint8_t *d = q->desc + (size_t)q->used_idx * VIRTQ_DESC_SIZE;
	st32(d + VIRTQ_DESC_LEN, written);
	st16(d + VIRTQ_PACKED_DESC_ID, c->id, __ATOMIC_RELAXED);
	uint16_t flags = q->used_wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0;
	if (written)
		flags |= VIRTQ_DESC_F_WRITE;
	st16(d + VIRTQ_PACKED_DESC_FLAGS, flags, __ATOMIC_RELEASE);
	packed_advance(q, &q->used_idx, &q->used_wrap, c->ndesc);
	q->used_since_signal = (uint16_t)MIN((unsigned)q->size,
					     (unsigned)q->used_since_signal + c->ndesc);
}

/* Positions are mapped onto one 16-bit circle where the current lap of the
 * ring is [0, size) and the previous one [-size, 0), then the split rule
 * applies. */
static bool needs_notify_packed(struct virtq *q)
{
	uint16_t added = q->used_since_signal;
	q->used_since_signal = 0;
	if (added == 0)
		return false;
	uint16_t flags = ld16(q->driver + VIRTQ_EVENT_FLAGS, __ATOMIC_ACQUIRE) & RING_EVENT_FLAGS_MASK;
	if (flags == RING_EVENT_FLAGS_DISABLE)
		return false;
	if (flags != RING_EVENT_FLAGS_DESC || !q->event_idx || added >= q->size)
		return true;
	uint16_t off_wrap = ld16(q->driver + VIRTQ_EVENT_OFF_WRAP, __ATOMIC_RELAXED);
	uint16_t event = off_wrap & (uint16_t)~VIRTQ_EVENT_WRAP_BIT;
	if (!!(off_wrap & VIRTQ_EVENT_WRAP_BIT) != q->used_wrap)
		event = (uint16_t)(event - q->size);
	return need_event(event, q->used_idx, (uint16_t)(q->used_idx - added));
}

/* ---- public ---- */

void virtq_init(struct virtq *q, const struct guest_mem *gm)
{
	memset(q, 0, sizeof(*q));
	q->gm = gm;
	virtq_reset(q);
}

void virtq_reset(struct virtq *q)
{
	const struct guest_mem *gm = q->gm;
	memset(q, 0, sizeof(*q));
	q->gm = gm;
	q->avail_wrap = true;
	q->used_wrap = true;
	q->notify_enabled = true;
}

static uint8_t *map_ring(const struct virtq *q, uint64_t gpa, uint64_t len, unsigned align)
{
	if (gpa % align)
		return NULL;
	uint8_t *host = gm_ptr(q->gm, gpa, len);
	if (!host || (uintptr_t)host % align)
		return NULL;
	return host;
}

int virtq_configure(struct virtq *q, uint16_t size, uint64_t desc, uint64_t driver,
		    uint64_t device, uint64_t features)
{
	virtq_reset(q);
	bool packed = features & (1ULL << VIRTIO_F_RING_PACKED);
	q->format = packed ? VIRTQ_PACKED : VIRTQ_SPLIT;
	q->event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	q->indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	if (size == 0 || size > VIRTQ_MAX_SIZE || (!packed && (size & (size - 1)))) {
		fail(q, "invalid queue size");
		return -EINVAL;
	}
	q->desc = map_ring(q, desc, (uint64_t)size * VIRTQ_DESC_SIZE, VIRTQ_DESC_ALIGN);
	if (packed) {
		q->driver = map_ring(q, driver, VIRTQ_EVENT_SIZE, VIRTQ_EVENT_ALIGN);
		q->device = map_ring(q, device, VIRTQ_EVENT_SIZE, VIRTQ_EVENT_ALIGN);
	} else {
		q->driver = map_ring(q, driver, VIRTQ_AVAIL_SIZE(size), VIRTQ_AVAIL_ALIGN);
		q->device = map_ring(q, device, VIRTQ_USED_SIZE(size), VIRTQ_USED_ALIGN);
	}
	if (!q->desc || !q->driver || !q->device) {
		fail(q, "ring misaligned or outside guest RAM");
		return -EINVAL;
	}
	q->size = size;
	q->ready = true;
	return 0;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (q->broken)
		return -1;
	if (!q->ready)
		return 0;
	return q->format == VIRTQ_PACKED ? pop_packed(q, c) : pop_split(q, c);
}

void virtq_push(struct virtq *q, const struct virtq_chain *c, uint32_t written)
{
	if (!q->ready || q->broken)
		return;
	if (written > c->writable)
		written = c->writable;
	if (q->format == VIRTQ_PACKED)
		push_packed(q, c, written);
	else
		push_split(q, c, written);
}

bool virtq_needs_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	atomic_thread_fence(memory_order_seq_cst);
	return q->format == VIRTQ_PACKED ? needs_notify_packed(q) : needs_notify_split(q);
}

void virtq_disable_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return;
	q->notify_enabled = false;
	if (q->format == VIRTQ_PACKED)
		st16(q->device + VIRTQ_EVENT_FLAGS, RING_EVENT_FLAGS_DISABLE, __ATOMIC_RELAXED);
	else if (!q->event_idx)
		st16(q->device + VIRTQ_USED_FLAGS, VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	/* With split EVENT_IDX, leaving avail_event behind is what disables. */
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	q->notify_enabled = true;
	if (q->format == VIRTQ_PACKED) {
		if (q->event_idx) {
			uint16_t off_wrap = (uint16_t)(q->last_avail | (q->avail_wrap ? VIRTQ_EVENT_WRAP_BIT : 0));
			st16(q->device + VIRTQ_EVENT_OFF_WRAP, off_wrap, __ATOMIC_RELAXED);
			st16(q->device + VIRTQ_EVENT_FLAGS, RING_EVENT_FLAGS_DESC, __ATOMIC_RELEASE);
		} else {
			st16(q->device + VIRTQ_EVENT_FLAGS, RING_EVENT_FLAGS_ENABLE, __ATOMIC_RELEASE);
		}
	} else if (q->event_idx) {
		st16(q->device + VIRTQ_USED_RING(q->size), q->last_avail, __ATOMIC_RELAXED);
	} else {
		st16(q->device + VIRTQ_USED_FLAGS, 0, __ATOMIC_RELAXED);
	}
	atomic_thread_fence(memory_order_seq_cst);
	return virtq_has_available(q);
}

bool virtq_has_available(struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	if (q->format == VIRTQ_PACKED) {
		const uint8_t *d = q->desc + (size_t)q->last_avail * VIRTQ_DESC_SIZE;
		return packed_avail(ld16(d + VIRTQ_PACKED_DESC_FLAGS, __ATOMIC_ACQUIRE), q->avail_wrap);
	}
	return ld16(q->driver + VIRTQ_AVAIL_IDX, __ATOMIC_ACQUIRE) != q->last_avail;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < c->nread && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t n = MIN(s->len - off, len - done);
		memcpy((uint8_t *)dst + done, (const uint8_t *)s->host + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *src, size_t len)
{
	size_t done = 0;
	for (unsigned i = c->nread; i < c->nseg && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t n = MIN(s->len - off, len - done);
		memcpy((uint8_t *)s->host + off, (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}
