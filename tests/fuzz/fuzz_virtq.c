/* libFuzzer target for the device side of virtqueues. The input is a
 * driver: a header picks format, features, size and ring addresses, a list
 * of operations drives the device (pop, push, notify decisions, driver
 * pokes into the rings), and the rest is the initial content of guest RAM.
 * RAM is two separate heap blocks with a gap, so ASan reports any access the
 * queue code makes outside them; segments are also checked explicitly.
 *
 * Input: [16-byte header][NR_OPS * 2 bytes of operations][guest RAM...] */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "util/log.h"
#include "util/util.h"
#include "virtio/virtio_spec.h"
#include "virtio/virtq.h"

#define RAM_A_SIZE 0x10000u
#define RAM_B_GPA 0x20000u
#define RAM_B_SIZE 0x1000u
#define HDR_SIZE 16
#define NR_OPS 32
#define MAX_HELD 4

struct harness {
	uint8_t *a, *b;
	struct guest_mem gm;
	struct virtq q;
	struct virtq_chain *held[MAX_HELD];
	unsigned nr_held;
	uint8_t scratch[64 * 1024];
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static bool inside(const uint8_t *host, uint32_t len, const uint8_t *base, uint32_t size)
{
	return host >= base && host <= base + size && len <= (size_t)(base + size - host);
}

/* What virtq_pop promises about a chain, checked independently of ASan. */
static void check_chain(const struct harness *h, const struct virtq_chain *c)
{
	uint64_t r = 0, w = 0;
	/* Indirect tables may make a chain longer than the ring, never longer than
	 * VIRTQ_MAX_SIZE segments; ring slots used stay within the ring. */
	if (c->nseg > VIRTQ_MAX_SIZE || c->nread > c->nseg || c->ndesc == 0 || c->ndesc > h->q.size)
		__builtin_trap();
	for (unsigned i = 0; i < c->nseg; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (s->write != (i >= c->nread))
			__builtin_trap();
		if (!inside(s->host, s->len, h->a, RAM_A_SIZE) && !inside(s->host, s->len, h->b, RAM_B_SIZE))
			__builtin_trap();
		*(s->write ? &w : &r) += s->len;
	}
	if (r != c->readable || w != c->writable || r + w > UINT32_MAX)
		__builtin_trap();
}

static void do_pop(struct harness *h)
{
	if (h->nr_held == MAX_HELD)
		return;
	struct virtq_chain *c = h->held[h->nr_held];
	if (virtq_pop(&h->q, c) != 1)
		return;
	check_chain(h, c);
	/* touch every byte the device may touch */
	size_t n = MIN(c->readable, sizeof(h->scratch));
	if (virtq_chain_read(c, 0, h->scratch, n) != n)
		__builtin_trap();
	n = MIN(c->writable, sizeof(h->scratch));
	if (virtq_chain_write(c, 0, h->scratch, n) != n)
		__builtin_trap();
	h->nr_held++;
}

static void do_push(struct harness *h, uint8_t arg)
{
	if (h->nr_held == 0)
		return;
	/* complete in any order: arg picks which held chain */
	unsigned i = arg % h->nr_held;
	struct virtq_chain *c = h->held[i];
	virtq_push(&h->q, c, (uint32_t)arg * 13);
	h->held[i] = h->held[--h->nr_held];
	h->held[h->nr_held] = c;
}

static void configure(struct harness *h, const uint8_t *hdr)
{
	uint64_t features = 0;
	if (hdr[0] & 1)
		features |= 1ULL << VIRTIO_F_RING_PACKED;
	if (hdr[0] & 2)
		features |= 1ULL << VIRTIO_F_EVENT_IDX;
	if (hdr[0] & 4)
		features |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	uint16_t size = (hdr[0] & 1) ? (uint16_t)(1 + rd16(hdr + 2) % 1024)
				     : (uint16_t)(1u << (hdr[1] % 11));
	uint64_t desc, drv, dev;
	if (hdr[0] & 8) { /* fuzzed layout, possibly misaligned or outside RAM */
		desc = (uint64_t)rd16(hdr + 4) << 1;
		drv = (uint64_t)rd16(hdr + 6) << 1;
		dev = (uint64_t)rd16(hdr + 8) << 1;
	} else { /* the layout a driver would use, starting at guest address 0 */
		desc = 0;
		drv = (uint64_t)size * VIRTQ_DESC_SIZE;
		dev = ALIGN_UP(drv + VIRTQ_AVAIL_SIZE(size), 4);
	}
	h->nr_held = 0;
	virtq_configure(&h->q, size, desc, drv, dev, features);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOG_OFF, NULL, NULL); /* malformed queues are the common case */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR_SIZE + 2 * NR_OPS)
		return 0;
	struct harness *h = calloc(1, sizeof(*h));
	h->a = calloc(1, RAM_A_SIZE);
	h->b = calloc(1, RAM_B_SIZE);
	for (unsigned i = 0; i < MAX_HELD; i++)
		h->held[i] = malloc(sizeof(struct virtq_chain));
	const uint8_t *hdr = data, *ops = data + HDR_SIZE, *mem = ops + 2 * NR_OPS;
	size_t mem_len = size - HDR_SIZE - 2 * NR_OPS;
	memcpy(h->a, mem, MIN(mem_len, RAM_A_SIZE));
	if (mem_len > RAM_A_SIZE)
		memcpy(h->b, mem + RAM_A_SIZE, MIN(mem_len - RAM_A_SIZE, RAM_B_SIZE));
	gm_init_buffer(&h->gm, 0, h->a, RAM_A_SIZE);
	h->gm.region[1] = (struct gm_region){ .gpa = RAM_B_GPA, .size = RAM_B_SIZE, .host = h->b };
	h->gm.nr_regions = 2;
	virtq_init(&h->q, &h->gm);
	configure(h, hdr);

	for (unsigned i = 0; i < NR_OPS; i++) {
		uint8_t op = ops[2 * i], arg = ops[2 * i + 1];
		switch (op % 8) {
		case 0: do_pop(h); break;
		case 1: do_push(h, arg); break;
		case 2: virtq_needs_notify(&h->q); break;
		case 3: virtq_enable_notify(&h->q); break;
		case 4: virtq_disable_notify(&h->q); break;
		case 5: virtq_has_available(&h->q); break;
		case 6: h->a[(op >> 3) * 256 + arg] += 1; break; /* the driver moves on */
		case 7: configure(h, hdr); break;
		}
	}

	for (unsigned i = 0; i < MAX_HELD; i++)
		free(h->held[i]);
	free(h->a);
	free(h->b);
	free(h);
	return 0;
}
