/* Device side of a virtio 1.2 virtqueue, split or packed, independent of the
 * transport. A device pops descriptor chains the driver made available, uses
 * their segments, pushes them back as used and asks whether the driver wants
 * an interrupt. Every guest address goes through gm_ptr and every ring field
 * is fetched once, so a hostile driver can only make a queue "broken". */
#ifndef ALIOTH_VIRTIO_VIRTQ_H
#define ALIOTH_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

/* Largest queue size accepted (the spec allows 32768; QEMU and Linux stay at
 * or below 1024). Also the most segments one chain may have. */
#define VIRTQ_MAX_SIZE 1024

enum virtq_format { VIRTQ_SPLIT, VIRTQ_PACKED };

/* One guest buffer element, already translated to a host pointer that is
 * valid for `len` bytes (len may be 0). The guest can change the bytes at any
 * time: copy what you parse before checking it. */
struct virtq_seg {
	void *host;
	uint32_t len;
	bool write; /* device-writable; readable segments always come first */
};

/* A descriptor chain taken by virtq_pop. About 16 KiB: keep it off small
 * stacks (embed it in the device or the request). */
struct virtq_chain {
	uint16_t id;       /* split: head descriptor index; packed: buffer id */
	uint16_t ndesc;    /* ring slots the chain took (packed push skips them) */
	uint16_t nseg;     /* entries in seg[] */
	uint16_t nread;    /* seg[0..nread) are readable, seg[nread..nseg) writable */
	uint32_t readable; /* byte totals; their sum is < 4 GiB */
	uint32_t writable;
	struct virtq_seg seg[VIRTQ_MAX_SIZE];
};

/* Ring pointers are resolved once by virtq_configure: guest RAM regions never
 * move while a VM runs. Indices are the device's own copies; the guest's are
 * only read. Not thread-safe: one thread drives a queue at a time. */
struct virtq {
	const struct guest_mem *gm;
	enum virtq_format format;
	uint16_t size;
	bool ready;          /* configured and usable */
	bool broken;         /* the driver broke the rules; see virtq_pop */
	bool event_idx;      /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;       /* VIRTIO_F_INDIRECT_DESC negotiated */
	bool notify_enabled; /* the device wants available-buffer notifications */
	uint8_t *desc;       /* descriptor table / ring */
	uint8_t *driver;     /* split: available ring; packed: driver event area */
	uint8_t *device;     /* split: used ring; packed: device event area */
	/* split: free-running 16-bit counters; packed: ring positions plus the
	 * wrap counters, which start at 1. */
	uint16_t last_avail;
	uint16_t used_idx;
	bool avail_wrap;
	bool used_wrap;
	/* used_idx when virtq_needs_notify last ran (split), or how many ring
	 * slots were used since (packed, saturating at size). */
	uint16_t signalled_used;
	uint16_t used_since_signal;
};

/* Binds a queue to guest memory and resets it. */
void virtq_init(struct virtq *q, const struct guest_mem *gm);
/* Back to the state after init: not ready, not broken, indices zero. */
void virtq_reset(struct virtq *q);
/* Makes the queue ready with the driver's size and ring addresses (the
 * transport's desc / driver / device registers) and the negotiated feature
 * bits (format, EVENT_IDX, INDIRECT_DESC are taken from them). Rejects, and
 * marks the queue broken, when the size is 0, above VIRTQ_MAX_SIZE or (split)
 * not a power of two, or a ring part is misaligned or not wholly in one RAM
 * region. Returns 0 or -EINVAL. */
int virtq_configure(struct virtq *q, uint16_t size, uint64_t desc, uint64_t driver,
		    uint64_t device, uint64_t features);

/* Takes the next available chain into *c. Returns 1 when a chain was taken,
 * 0 when none is available (or the queue is not ready; *c is then left
 * untouched), -1 when the driver
 * published something malformed. -1 makes the queue broken for good (until
 * reset): later pops return -1 and pushes do nothing; the device must then
 * set VIRTIO_STATUS_NEEDS_RESET and raise a configuration interrupt.
 * The bounds enforced are listed in docs/virtio.md. */
int virtq_pop(struct virtq *q, struct virtq_chain *c);
/* Returns a popped chain to the driver, telling it `written` bytes were
 * stored into the writable segments (clamped to c->writable). The data the
 * device wrote is published before the used entry (release ordering). */
void virtq_push(struct virtq *q, const struct virtq_chain *c, uint32_t written);
/* After one or more pushes: whether the driver asked for a used-buffer
 * notification (interrupt) for them, per EVENT_IDX used_event / packed
 * driver event suppression, or the NO_INTERRUPT flag. Call it once per
 * batch; it remembers the point it last answered for. */
bool virtq_needs_notify(struct virtq *q);

/* Asks the driver not to send available-buffer notifications (kicks) while
 * the device is polling the queue anyway. Advisory: kicks may still come. */
void virtq_disable_notify(struct virtq *q);
/* Asks for kicks again, then (after a full barrier) looks at the ring.
 * Returns true if buffers are available, i.e. ones that arrived while kicks
 * were off: the caller must pop again instead of sleeping, or lose a wake-up. */
bool virtq_enable_notify(struct virtq *q);
/* Whether a chain is waiting to be popped (false when broken/not ready). */
bool virtq_has_available(struct virtq *q);

/* Copy helpers over a chain's readable / writable bytes, starting `off` bytes
 * into that part. Return how many bytes were copied (short at the end). */
size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *src, size_t len);

#endif
