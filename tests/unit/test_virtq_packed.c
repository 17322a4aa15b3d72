/* Packed virtqueues, device side: chains, used descriptors and wrap counters
 * over many laps of an odd-sized ring, event suppression, and hostile
 * drivers. The test plays the driver with its own wrap counters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "virtio/virtio_spec.h"
#include "virtio/virtq.h"

#define RAM_A_SIZE 0x10000ULL
#define RAM_B_GPA 0x20000ULL
#define RAM_B_SIZE 0x1000ULL

#define QSIZE 5 /* packed rings need not be a power of two */
#define DESC_GPA 0x1000ULL
#define DRV_GPA 0x2000ULL
#define DEV_GPA 0x2010ULL
#define DATA_GPA 0x4000ULL
#define TABLE_GPA 0x8000ULL

#define F_PACKED (1ULL << VIRTIO_F_RING_PACKED)
#define F_INDIRECT (1ULL << VIRTIO_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ULL << VIRTIO_F_EVENT_IDX)

struct el {
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* WRITE / INDIRECT */
};

struct fx {
	struct guest_mem gm;
	uint8_t *a, *b;
	struct virtq q;
	struct virtq_chain c;
	/* the driver's view */
	uint16_t next_avail, next_used;
	bool avail_wrap, used_wrap;
	uint16_t chain_len[QSIZE]; /* by buffer id */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->a = aligned_alloc(4096, RAM_A_SIZE);
	f->b = aligned_alloc(4096, RAM_B_SIZE);
	memset(f->a, 0, RAM_A_SIZE);
	memset(f->b, 0, RAM_B_SIZE);
	gm_init_buffer(&f->gm, 0, f->a, RAM_A_SIZE);
	f->gm.region[1] = (struct gm_region){ .gpa = RAM_B_GPA, .size = RAM_B_SIZE, .host = f->b };
	f->gm.nr_regions = 2;
	virtq_init(&f->q, &f->gm);
	f->avail_wrap = f->used_wrap = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	free(f->a);
	free(f->b);
	free(f);
	return 0;
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint8_t *desc_at(struct fx *f, unsigned i) { return f->a + DESC_GPA + 16 * i; }

static void write_desc(uint8_t *at, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	put64(at, addr);
	put32(at + 8, len);
	put16(at + 12, id);
	put16(at + 14, flags);
}

static void configure(struct fx *f, uint64_t features)
{
	assert_int_equal(virtq_configure(&f->q, QSIZE, DESC_GPA, DRV_GPA, DEV_GPA, F_PACKED | features), 0);
}

static uint16_t avail_bits(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

/* Makes a buffer available the way the spec's driver does: the id in the
 * last descriptor, the head's flags written last. `next_on_last` lets
 * hostile tests leave NEXT on the final descriptor. */
static void offer_ex(struct fx *f, const struct el *e, unsigned n, uint16_t id, bool next_on_last)
{
	uint16_t head = f->next_avail, head_flags = 0;
	for (unsigned i = 0; i < n; i++) {
		bool last = i + 1 == n;
		uint16_t flags = e[i].flags | avail_bits(f->avail_wrap);
		if (!last || next_on_last)
			flags |= VIRTQ_DESC_F_NEXT;
		write_desc(desc_at(f, f->next_avail), e[i].addr, e[i].len, last ? id : 0xdead,
			   i == 0 ? 0 : flags);
		if (i == 0)
			head_flags = flags;
		if (++f->next_avail == QSIZE) {
			f->next_avail = 0;
			f->avail_wrap = !f->avail_wrap;
		}
	}
	put16(desc_at(f, head) + 14, head_flags);
	f->chain_len[id % QSIZE] = (uint16_t)n;
}

static void offer(struct fx *f, const struct el *e, unsigned n, uint16_t id)
{
	offer_ex(f, e, n, id, false);
}

/* Reads the next used descriptor as the driver would and checks it. */
static void expect_used(struct fx *f, uint16_t id, uint32_t len)
{
	const uint8_t *d = desc_at(f, f->next_used);
	uint16_t flags = get16(d + 14);
	uint16_t both = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;
	assert_int_equal(flags & both, f->used_wrap ? both : 0);
	assert_int_equal(!!(flags & VIRTQ_DESC_F_WRITE), len != 0);
	assert_int_equal(get16(d + 12), id);
	assert_int_equal(get32(d + 8), len);
	f->next_used = (uint16_t)(f->next_used + f->chain_len[id % QSIZE]);
	if (f->next_used >= QSIZE) {
		f->next_used -= QSIZE;
		f->used_wrap = !f->used_wrap;
	}
}

static void set_driver_event(struct fx *f, uint16_t flags, uint16_t off, bool wrap)
{
	put16(f->a + DRV_GPA + VIRTQ_EVENT_OFF_WRAP, (uint16_t)(off | (wrap ? VIRTQ_EVENT_WRAP_BIT : 0)));
	put16(f->a + DRV_GPA + VIRTQ_EVENT_FLAGS, flags);
}

static void expect_malformed(struct fx *f)
{
	assert_int_equal(virtq_pop(&f->q, &f->c), -1);
	assert_true(f->q.broken);
	assert_int_equal(virtq_pop(&f->q, &f->c), -1);
	uint8_t before[16];
	memcpy(before, desc_at(f, 0), 16);
	f->c.ndesc = 1;
	virtq_push(&f->q, &f->c, 0);
	assert_memory_equal(before, desc_at(f, 0), 16);
}

/* ---- normal operation ---- */

static void test_chain_and_used_descriptor(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0); /* zeroed ring: nothing */
	const struct el e[] = {
		{ DATA_GPA, 16, 0 },
		{ DATA_GPA + 0x100, 8, 0 },
		{ RAM_B_GPA, 64, VIRTQ_DESC_F_WRITE },
	};
	offer(f, e, 3, 2);
	assert_true(virtq_has_available(&f->q));
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.id, 2);
	assert_int_equal(f->c.ndesc, 3);
	assert_int_equal(f->c.nseg, 3);
	assert_int_equal(f->c.nread, 2);
	assert_int_equal(f->c.readable, 24);
	assert_int_equal(f->c.writable, 64);
	assert_ptr_equal(f->c.seg[1].host, f->a + DATA_GPA + 0x100);
	assert_ptr_equal(f->c.seg[2].host, f->b);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);

	virtq_push(&f->q, &f->c, 40);
	expect_used(f, 2, 40);
	/* the device skipped the whole chain: the next buffer goes to slot 3 */
	assert_int_equal(f->q.used_idx, 3);
}

static void test_wrap_counters_over_many_laps(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	unsigned flips = 0;
	bool last_wrap = f->q.avail_wrap;
	for (unsigned round = 0; round < 600; round++) {
		unsigned n = 1 + round % 3;
		uint16_t id = (uint16_t)(round % QSIZE);
		struct el e[3];
		for (unsigned i = 0; i < n; i++)
			e[i] = (struct el){ DATA_GPA + 0x40 * i + round, 1 + i,
					    i + 1 == n ? VIRTQ_DESC_F_WRITE : 0 };
		offer(f, e, n, id);
		assert_int_equal(virtq_pop(&f->q, &f->c), 1);
		assert_int_equal(f->c.id, id);
		assert_int_equal(f->c.ndesc, n);
		assert_int_equal(f->c.nseg, n);
		assert_ptr_equal(f->c.seg[n - 1].host, f->a + DATA_GPA + 0x40 * (n - 1) + round);
		assert_int_equal(virtq_pop(&f->q, &f->c), 0);
		assert_int_equal(f->q.avail_wrap, f->avail_wrap);
		assert_int_equal(f->q.last_avail, f->next_avail);
		flips += f->q.avail_wrap != last_wrap;
		last_wrap = f->q.avail_wrap;
		virtq_push(&f->q, &f->c, round % 2 ? n : 0);
		expect_used(f, id, round % 2 ? n : 0);
		assert_int_equal(f->q.used_wrap, f->used_wrap);
	}
	assert_true(flips >= 2 * 600 / QSIZE - 1); /* 1200 descriptors over 5 slots */
}

/* Two buffers popped, completed out of order: used descriptors go to the
 * ring in completion order. */
static void test_out_of_order_completion(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	struct virtq_chain *first = malloc(sizeof(*first));
	const struct el a[] = { { DATA_GPA, 4, 0 }, { DATA_GPA + 8, 4, VIRTQ_DESC_F_WRITE } };
	const struct el b[] = { { DATA_GPA + 16, 4, VIRTQ_DESC_F_WRITE } };
	offer(f, a, 2, 0);
	offer(f, b, 1, 1);
	assert_int_equal(virtq_pop(&f->q, first), 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	virtq_push(&f->q, &f->c, 4);
	virtq_push(&f->q, first, 3);
	f->chain_len[1] = 1;
	expect_used(f, 1, 4);
	expect_used(f, 0, 3);
	free(first);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	write_desc(f->a + TABLE_GPA, DATA_GPA, 10, 0, VIRTQ_DESC_F_NEXT); /* NEXT ignored */
	write_desc(f->a + TABLE_GPA + 16, DATA_GPA + 0x20, 20, 0, VIRTQ_DESC_F_WRITE);
	const struct el e[] = { { TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT } };
	offer(f, e, 1, 4);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.id, 4);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nseg, 2);
	assert_int_equal(f->c.readable, 10);
	assert_int_equal(f->c.writable, 20);
	assert_ptr_equal(f->c.seg[1].host, f->a + DATA_GPA + 0x20);
}

static void push_chain(struct fx *f, unsigned n)
{
	struct el e[QSIZE];
	for (unsigned i = 0; i < n; i++)
		e[i] = (struct el){ DATA_GPA, 4, VIRTQ_DESC_F_WRITE };
	offer(f, e, n, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	virtq_push(&f->q, &f->c, 4);
}

static void test_notify_enable_disable_flags(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	assert_false(virtq_needs_notify(&f->q)); /* nothing used yet */
	set_driver_event(f, RING_EVENT_FLAGS_ENABLE, 0, false);
	push_chain(f, 1);
	assert_true(virtq_needs_notify(&f->q));
	set_driver_event(f, RING_EVENT_FLAGS_DISABLE, 0, false);
	push_chain(f, 1);
	assert_false(virtq_needs_notify(&f->q));
	/* DESC without EVENT_IDX is not valid: notify rather than stall */
	set_driver_event(f, RING_EVENT_FLAGS_DESC, 4, false);
	push_chain(f, 1);
	assert_true(virtq_needs_notify(&f->q));
}

static void test_notify_event_desc_across_wrap(void **state)
{
	struct fx *f = *state;
	configure(f, F_EVENT_IDX);
	set_driver_event(f, RING_EVENT_FLAGS_ENABLE, 0, false);
	push_chain(f, 2);
	push_chain(f, 2); /* used position 4, wrap 1 */
	virtq_needs_notify(&f->q);
	assert_int_equal(f->q.used_idx, 4);

	set_driver_event(f, RING_EVENT_FLAGS_DESC, 0, false); /* slot 0 of the next lap */
	push_chain(f, 1); /* writes slot 4, lap 1 */
	assert_false(virtq_needs_notify(&f->q));
	push_chain(f, 1); /* writes slot 0, lap 0 */
	assert_true(virtq_needs_notify(&f->q));

	set_driver_event(f, RING_EVENT_FLAGS_DESC, 4, false);
	push_chain(f, 3); /* slots 1..3 */
	assert_false(virtq_needs_notify(&f->q));
	push_chain(f, 2); /* slots 4, 0: wraps; the event is now a lap behind */
	assert_true(virtq_needs_notify(&f->q));
	assert_false(virtq_needs_notify(&f->q));

	/* an event a full lap behind is not re-triggered */
	push_chain(f, 1);
	assert_false(virtq_needs_notify(&f->q));
}

static void test_kick_suppression(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	virtq_disable_notify(&f->q);
	assert_int_equal(get16(f->a + DEV_GPA + VIRTQ_EVENT_FLAGS), RING_EVENT_FLAGS_DISABLE);
	assert_false(virtq_enable_notify(&f->q));
	assert_int_equal(get16(f->a + DEV_GPA + VIRTQ_EVENT_FLAGS), RING_EVENT_FLAGS_ENABLE);
	virtq_disable_notify(&f->q);
	const struct el e[] = { { DATA_GPA, 4, 0 } };
	offer(f, e, 1, 0);
	assert_true(virtq_enable_notify(&f->q));
}

static void test_kick_suppression_event_idx(void **state)
{
	struct fx *f = *state;
	configure(f, F_EVENT_IDX);
	for (unsigned i = 0; i < 3; i++)
		push_chain(f, 2); /* 6 slots: last_avail 1, wrap 0 */
	assert_false(virtq_enable_notify(&f->q));
	assert_int_equal(get16(f->a + DEV_GPA + VIRTQ_EVENT_FLAGS), RING_EVENT_FLAGS_DESC);
	assert_int_equal(get16(f->a + DEV_GPA + VIRTQ_EVENT_OFF_WRAP), 1);
	push_chain(f, 1); /* popped while enabled: the event follows */
	assert_int_equal(get16(f->a + DEV_GPA + VIRTQ_EVENT_OFF_WRAP), 2);
}

static void test_configure_rejects(void **state)
{
	struct fx *f = *state;
	assert_int_equal(virtq_configure(&f->q, 2048, DESC_GPA, DRV_GPA, DEV_GPA, F_PACKED), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 5, DESC_GPA, DRV_GPA + 2, DEV_GPA, F_PACKED), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 5, DESC_GPA, DRV_GPA, 0x18000, F_PACKED), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 5, RAM_A_SIZE - 64, DRV_GPA, DEV_GPA, F_PACKED), -EINVAL);
	assert_int_equal(virtq_pop(&f->q, &f->c), -1);
	assert_int_equal(virtq_configure(&f->q, 1024, DESC_GPA, DRV_GPA + 0x4000, DEV_GPA + 0x4000, F_PACKED), 0);
}

/* ---- hostile drivers ---- */

static void test_chain_longer_than_ring(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	struct el e[QSIZE];
	for (unsigned i = 0; i < QSIZE; i++)
		e[i] = (struct el){ DATA_GPA, 4, 0 };
	offer_ex(f, e, QSIZE, 0, true); /* every slot says NEXT */
	expect_malformed(f);
}

static void test_chain_into_unavailable(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	const struct el e[] = { { DATA_GPA, 4, 0 } };
	offer_ex(f, e, 1, 0, true); /* slot 1 is still zero: not available */
	expect_malformed(f);
}

static void test_full_ring_chain_is_fine(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	struct el e[QSIZE];
	for (unsigned i = 0; i < QSIZE; i++)
		e[i] = (struct el){ DATA_GPA, 4, 0 };
	offer(f, e, QSIZE, 3);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.ndesc, QSIZE);
	assert_false(f->q.avail_wrap);
}

static void one_el_must_fail(struct fx *f, uint64_t features, struct el e)
{
	configure(f, features);
	offer(f, &e, 1, 0);
	expect_malformed(f);
}

static void test_buffer_in_gap(void **state) { one_el_must_fail(*state, 0, (struct el){ 0x18000, 4, 0 }); }
static void test_buffer_straddles_end(void **state) { one_el_must_fail(*state, 0, (struct el){ RAM_B_GPA + RAM_B_SIZE - 2, 4, 0 }); }
static void test_length_all_ones(void **state) { one_el_must_fail(*state, 0, (struct el){ DATA_GPA, 0xffffffffU, VIRTQ_DESC_F_WRITE }); }
static void test_indirect_without_feature(void **state) { one_el_must_fail(*state, 0, (struct el){ TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT }); }
static void test_indirect_len_not_multiple(void **state) { one_el_must_fail(*state, F_INDIRECT, (struct el){ TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT }); }
static void test_indirect_len_zero(void **state) { one_el_must_fail(*state, F_INDIRECT, (struct el){ TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT }); }
static void test_indirect_too_long(void **state) { one_el_must_fail(*state, F_INDIRECT, (struct el){ TABLE_GPA, (VIRTQ_MAX_SIZE + 1) * 16, VIRTQ_DESC_F_INDIRECT }); }
static void test_indirect_table_in_gap(void **state) { one_el_must_fail(*state, F_INDIRECT, (struct el){ 0x1fff0, 16, VIRTQ_DESC_F_INDIRECT }); }

static void test_indirect_within_indirect(void **state)
{
	struct fx *f = *state;
	write_desc(f->a + TABLE_GPA, TABLE_GPA, 16, 0, VIRTQ_DESC_F_INDIRECT);
	one_el_must_fail(f, F_INDIRECT, (struct el){ TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT });
}

static void test_indirect_entry_outside_ram(void **state)
{
	struct fx *f = *state;
	write_desc(f->a + TABLE_GPA, RAM_A_SIZE - 4, 8, 0, 0);
	one_el_must_fail(f, F_INDIRECT, (struct el){ TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT });
}

static void test_indirect_inside_chain(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	write_desc(f->a + TABLE_GPA, DATA_GPA, 4, 0, 0);
	const struct el e[] = { { DATA_GPA, 4, 0 }, { TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT } };
	offer(f, e, 2, 0);
	expect_malformed(f);
}

static void test_indirect_with_next(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	write_desc(f->a + TABLE_GPA, DATA_GPA, 4, 0, 0);
	const struct el e[] = { { TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT }, { DATA_GPA, 4, 0 } };
	offer(f, e, 2, 0);
	expect_malformed(f);
}

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	const struct el e[] = { { DATA_GPA, 4, VIRTQ_DESC_F_WRITE }, { DATA_GPA, 4, 0 } };
	offer(f, e, 2, 0);
	expect_malformed(f);
}

static void test_readable_after_writable_indirect(void **state)
{
	struct fx *f = *state;
	write_desc(f->a + TABLE_GPA, DATA_GPA, 4, 0, VIRTQ_DESC_F_WRITE);
	write_desc(f->a + TABLE_GPA + 16, DATA_GPA, 4, 0, 0);
	one_el_must_fail(f, F_INDIRECT, (struct el){ TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT });
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_chain_and_used_descriptor),
		T(test_wrap_counters_over_many_laps),
		T(test_out_of_order_completion),
		T(test_indirect),
		T(test_notify_enable_disable_flags),
		T(test_notify_event_desc_across_wrap),
		T(test_kick_suppression),
		T(test_kick_suppression_event_idx),
		T(test_configure_rejects),
		T(test_chain_longer_than_ring),
		T(test_chain_into_unavailable),
		T(test_full_ring_chain_is_fine),
		T(test_buffer_in_gap),
		T(test_buffer_straddles_end),
		T(test_length_all_ones),
		T(test_indirect_without_feature),
		T(test_indirect_len_not_multiple),
		T(test_indirect_len_zero),
		T(test_indirect_too_long),
		T(test_indirect_table_in_gap),
		T(test_indirect_within_indirect),
		T(test_indirect_entry_outside_ram),
		T(test_indirect_inside_chain),
		T(test_indirect_with_next),
		T(test_readable_after_writable),
		T(test_readable_after_writable_indirect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
