/* Split virtqueues, device side: chains (direct, indirect, mixed), used ring
 * writes, notification decisions across the 16-bit index wrap, and hostile
 * drivers. Guest RAM is two malloc'd regions with a gap between them, so
 * ASan sees any access outside it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "virtio/virtio_spec.h"
#include "virtio/virtq.h"

#define RAM_A_GPA 0x0ULL
#define RAM_A_SIZE 0x10000ULL
#define RAM_B_GPA 0x20000ULL /* gap in [0x10000, 0x20000) */
#define RAM_B_SIZE 0x1000ULL

#define QSIZE 8
#define DESC_GPA 0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA 0x3000ULL
#define DATA_GPA 0x4000ULL
#define TABLE_GPA 0x8000ULL

#define F_INDIRECT (1ULL << VIRTIO_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ULL << VIRTIO_F_EVENT_IDX)

struct fx {
	struct guest_mem gm;
	uint8_t *a, *b;
	struct virtq q;
	struct virtq_chain c;
	uint16_t avail_idx; /* the driver's */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->a = aligned_alloc(4096, RAM_A_SIZE);
	f->b = aligned_alloc(4096, RAM_B_SIZE);
	memset(f->a, 0, RAM_A_SIZE);
	memset(f->b, 0, RAM_B_SIZE);
	gm_init_buffer(&f->gm, RAM_A_GPA, f->a, RAM_A_SIZE);
	f->gm.region[1] = (struct gm_region){ .gpa = RAM_B_GPA, .size = RAM_B_SIZE, .host = f->b };
	f->gm.nr_regions = 2;
	virtq_init(&f->q, &f->gm);
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

static void write_desc(uint8_t *at, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put64(at, addr);
	put32(at + 8, len);
	put16(at + 12, flags);
	put16(at + 14, next);
}

static void set_desc(struct fx *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	write_desc(f->a + DESC_GPA + 16 * i, addr, len, flags, next);
}

static void set_table(struct fx *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	write_desc(f->a + TABLE_GPA + 16 * i, addr, len, flags, next);
}

static void configure(struct fx *f, uint64_t features)
{
	assert_int_equal(virtq_configure(&f->q, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA, features), 0);
}

static void offer(struct fx *f, uint16_t head)
{
	put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_RING(f->avail_idx % QSIZE), head);
	f->avail_idx++;
	put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_IDX, f->avail_idx);
}

static uint16_t used_idx(struct fx *f) { return get16(f->a + USED_GPA + VIRTQ_USED_IDX); }
static uint32_t used_id(struct fx *f, unsigned slot) { return get32(f->a + USED_GPA + VIRTQ_USED_RING(slot)); }
static uint32_t used_len(struct fx *f, unsigned slot) { return get32(f->a + USED_GPA + VIRTQ_USED_RING(slot) + 4); }
static void set_used_event(struct fx *f, uint16_t v) { put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_RING(QSIZE), v); }
static uint16_t avail_event(struct fx *f) { return get16(f->a + USED_GPA + VIRTQ_USED_RING(QSIZE)); }

/* Asserts pop refuses the chain, the queue stays broken and push is inert. */
static void expect_malformed(struct fx *f)
{
	assert_int_equal(virtq_pop(&f->q, &f->c), -1);
	assert_true(f->q.broken);
	assert_int_equal(virtq_pop(&f->q, &f->c), -1);
	virtq_push(&f->q, &f->c, 0);
	assert_int_equal(used_idx(f), 0);
	assert_false(virtq_needs_notify(&f->q));
}

/* ---- normal operation ---- */

static void test_direct_chain(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	set_desc(f, 3, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 5);
	set_desc(f, 5, DATA_GPA + 0x100, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, RAM_B_GPA, 32, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 3);

	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(f->c.ndesc, 3);
	assert_int_equal(f->c.nseg, 3);
	assert_int_equal(f->c.nread, 2);
	assert_int_equal(f->c.readable, 24);
	assert_int_equal(f->c.writable, 32);
	assert_ptr_equal(f->c.seg[0].host, f->a + DATA_GPA);
	assert_ptr_equal(f->c.seg[1].host, f->a + DATA_GPA + 0x100);
	assert_ptr_equal(f->c.seg[2].host, f->b);
	assert_false(f->c.seg[1].write);
	assert_true(f->c.seg[2].write);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);

	virtq_push(&f->q, &f->c, 10);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(used_id(f, 0), 3);
	assert_int_equal(used_len(f, 0), 10);
	/* written is clamped to what the chain can hold */
	virtq_push(&f->q, &f->c, 1000);
	assert_int_equal(used_len(f, 1), 32);
}

static void test_indirect_chain(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	set_table(f, 0, DATA_GPA, 12, VIRTQ_DESC_F_NEXT, 2);
	set_table(f, 2, DATA_GPA + 0x40, 20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_table(f, 1, DATA_GPA + 0x80, 4, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, 0, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);

	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.id, 0);
	assert_int_equal(f->c.nseg, 3);
	assert_int_equal(f->c.nread, 1);
	assert_int_equal(f->c.readable, 12);
	assert_int_equal(f->c.writable, 24);
	assert_ptr_equal(f->c.seg[1].host, f->a + DATA_GPA + 0x40);
	assert_ptr_equal(f->c.seg[2].host, f->a + DATA_GPA + 0x80);
}

static void test_mixed_chain(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	set_table(f, 0, DATA_GPA + 0x200, 64, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, 6, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, 2, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 6);

	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.id, 6);
	assert_int_equal(f->c.nseg, 2);
	assert_int_equal(f->c.readable, 8);
	assert_int_equal(f->c.writable, 64);
	assert_ptr_equal(f->c.seg[1].host, f->a + DATA_GPA + 0x200);
}

static void test_zero_length_descriptor(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_desc(f, 0, DATA_GPA, 0, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, RAM_A_GPA + RAM_A_SIZE, 0, VIRTQ_DESC_F_WRITE, 0); /* at the end: fine */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nseg, 2);
	assert_int_equal(f->c.readable + f->c.writable, 0);
}

static void test_chain_copy_helpers(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	memcpy(f->a + DATA_GPA, "hello ", 6);
	memcpy(f->a + DATA_GPA + 0x100, "world", 5);
	set_desc(f, 0, DATA_GPA, 6, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, DATA_GPA + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, 2, DATA_GPA + 0x200, 3, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	set_desc(f, 3, RAM_B_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);

	char buf[16] = { 0 };
	assert_int_equal(virtq_chain_read(&f->c, 4, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "o world", 7);
	assert_int_equal(virtq_chain_write(&f->c, 1, "ABCDEFGH", 8), 6);
	assert_memory_equal(f->a + DATA_GPA + 0x200, "\0AB", 3);
	assert_memory_equal(f->b, "CDEF", 4);
}

/* 70000 round trips on a 4-entry queue: the free-running indices cross
 * 65535 -> 0 and every used element lands in the right slot. */
static void test_used_ring_across_index_wrap(void **state)
{
	struct fx *f = *state;
	assert_int_equal(virtq_configure(&f->q, 4, DESC_GPA, AVAIL_GPA, USED_GPA, 0), 0);
	for (unsigned i = 0; i < 4; i++)
		set_desc(f, i, DATA_GPA + 16 * i, 16, VIRTQ_DESC_F_WRITE, 0);
	for (uint32_t n = 0; n < 70000; n++) {
		uint16_t head = n % 4;
		put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_RING(f->avail_idx % 4), head);
		f->avail_idx++;
		put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_IDX, f->avail_idx);
		assert_int_equal(virtq_pop(&f->q, &f->c), 1);
		assert_int_equal(f->c.id, head);
		virtq_push(&f->q, &f->c, n % 17);
		assert_int_equal(used_idx(f), (uint16_t)(n + 1));
		assert_int_equal(used_id(f, n % 4), head);
		assert_int_equal(used_len(f, n % 4), n % 17);
	}
}

/* Drives the queue until the device's used index is `target`. */
static void advance_to(struct fx *f, uint16_t target)
{
	set_desc(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	while (f->q.used_idx != target) {
		offer(f, 0);
		assert_int_equal(virtq_pop(&f->q, &f->c), 1);
		virtq_push(&f->q, &f->c, 1);
	}
	virtq_needs_notify(&f->q);
}

static void push_one(struct fx *f)
{
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	virtq_push(&f->q, &f->c, 1);
}

static void test_event_idx_notify_across_wrap(void **state)
{
	struct fx *f = *state;
	configure(f, F_EVENT_IDX);
	advance_to(f, 0xfffe);

	set_used_event(f, 0xffff);
	push_one(f); /* used 0xfffe -> 0xffff: entry 0xffff not yet used */
	assert_false(virtq_needs_notify(&f->q));
	push_one(f); /* -> 0x0000: entry 0xffff used now */
	assert_true(virtq_needs_notify(&f->q));
	assert_false(virtq_needs_notify(&f->q)); /* nothing new since */

	set_used_event(f, 1);
	push_one(f);
	push_one(f); /* batch 0 -> 2 covers entry 1 */
	assert_true(virtq_needs_notify(&f->q));
	set_used_event(f, 5);
	push_one(f); /* 2 -> 3 */
	assert_false(virtq_needs_notify(&f->q));
	/* an event the device already passed long ago does not fire */
	set_used_event(f, 0xfff0);
	push_one(f);
	assert_false(virtq_needs_notify(&f->q));
	/* NO_INTERRUPT is ignored when EVENT_IDX is negotiated */
	put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_FLAGS, VIRTQ_AVAIL_F_NO_INTERRUPT);
	set_used_event(f, 4);
	push_one(f); /* 4 -> 5 */
	assert_true(virtq_needs_notify(&f->q));
}

static void test_flags_notify(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_desc(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	assert_false(virtq_needs_notify(&f->q)); /* nothing used */
	push_one(f);
	assert_true(virtq_needs_notify(&f->q));
	put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_FLAGS, VIRTQ_AVAIL_F_NO_INTERRUPT);
	push_one(f);
	assert_false(virtq_needs_notify(&f->q));
	put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_FLAGS, 0);
	push_one(f);
	assert_true(virtq_needs_notify(&f->q));
}

static void test_notify_suppression_flags(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_desc(f, 0, DATA_GPA, 16, 0, 0);
	virtq_disable_notify(&f->q);
	assert_int_equal(get16(f->a + USED_GPA + VIRTQ_USED_FLAGS), VIRTQ_USED_F_NO_NOTIFY);
	assert_false(virtq_enable_notify(&f->q));
	assert_int_equal(get16(f->a + USED_GPA + VIRTQ_USED_FLAGS), 0);

	virtq_disable_notify(&f->q);
	offer(f, 0); /* arrives while kicks are off */
	assert_true(virtq_enable_notify(&f->q));
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_false(virtq_enable_notify(&f->q));
}

static void test_notify_suppression_event_idx(void **state)
{
	struct fx *f = *state;
	configure(f, F_EVENT_IDX);
	set_desc(f, 0, DATA_GPA, 16, 0, 0);
	offer(f, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(avail_event(f), 1); /* kicks wanted: published on pop */
	virtq_disable_notify(&f->q);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(avail_event(f), 1); /* left behind while polling */
	assert_int_equal(get16(f->a + USED_GPA + VIRTQ_USED_FLAGS), 0);
	assert_false(virtq_enable_notify(&f->q));
	assert_int_equal(avail_event(f), 2);
	offer(f, 0);
	assert_true(virtq_has_available(&f->q));
}

/* ---- configuration ---- */

static void test_configure_rejects(void **state)
{
	struct fx *f = *state;
	assert_int_equal(virtq_configure(&f->q, 6, DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 0, DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 2048, DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, 0), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, 0), -EINVAL);
	/* used ring in the gap, straddling the end of RAM, past all RAM */
	assert_int_equal(virtq_configure(&f->q, 8, DESC_GPA, AVAIL_GPA, 0x18000, 0), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 8, DESC_GPA, AVAIL_GPA, RAM_A_SIZE - 16, 0), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 8, DESC_GPA, AVAIL_GPA, RAM_B_GPA + RAM_B_SIZE - 64, 0), -EINVAL);
	assert_int_equal(virtq_configure(&f->q, 8, 0xfffffffffffffff0ULL, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	assert_true(f->q.broken);
	assert_int_equal(virtq_pop(&f->q, &f->c), -1);
	/* a good configuration heals the queue, and so does reset */
	configure(f, 0);
	assert_false(f->q.broken);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	virtq_reset(&f->q);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	assert_false(f->q.ready);
}

/* ---- hostile drivers ---- */

static void test_descriptor_loop(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_desc(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void test_self_loop_writable(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_desc(f, 4, DATA_GPA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
	offer(f, 4);
	expect_malformed(f);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_desc(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, QSIZE);
	offer(f, 0);
	expect_malformed(f);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	offer(f, QSIZE);
	expect_malformed(f);
}

static void one_desc_must_fail(struct fx *f, uint64_t addr, uint32_t len)
{
	configure(f, 0);
	set_desc(f, 0, addr, len, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void test_buffer_in_gap(void **state) { one_desc_must_fail(*state, 0x18000, 16); }
static void test_buffer_straddles_region_a(void **state) { one_desc_must_fail(*state, RAM_A_SIZE - 8, 16); }
static void test_buffer_straddles_region_b(void **state) { one_desc_must_fail(*state, RAM_B_GPA + RAM_B_SIZE - 8, 9); }
static void test_buffer_past_ram(void **state) { one_desc_must_fail(*state, 0x100000000ULL, 1); }
static void test_buffer_address_wraps(void **state) { one_desc_must_fail(*state, 0xffffffffffffff00ULL, 0x200); }
static void test_length_all_ones(void **state) { one_desc_must_fail(*state, DATA_GPA, 0xffffffffU); }
static void test_zero_length_outside_ram(void **state) { one_desc_must_fail(*state, 0x18000, 0); }

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_desc(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, DATA_GPA, 16, 0, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void test_readable_after_writable_indirect(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	set_table(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_table(f, 1, DATA_GPA, 16, 0, 0);
	set_desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void test_indirect_without_feature(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_table(f, 0, DATA_GPA, 16, 0, 0);
	set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void test_indirect_within_indirect(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	set_table(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void test_indirect_with_next(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	set_table(f, 0, DATA_GPA, 16, 0, 0);
	set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, DATA_GPA, 16, 0, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void bad_table_len(struct fx *f, uint64_t table, uint32_t len)
{
	configure(f, F_INDIRECT);
	for (unsigned i = 0; i <= QSIZE; i++)
		set_table(f, i, DATA_GPA, 16, 0, 0);
	set_desc(f, 0, table, len, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void test_indirect_len_not_multiple(void **state) { bad_table_len(*state, TABLE_GPA, 20); }
static void test_indirect_len_zero(void **state) { bad_table_len(*state, TABLE_GPA, 0); }
static void test_indirect_too_long(void **state) { bad_table_len(*state, TABLE_GPA, (VIRTQ_MAX_SIZE + 1) * 16); }
static void test_indirect_table_outside_ram(void **state) { bad_table_len(*state, RAM_A_SIZE - 16, 32); }

static void test_indirect_next_out_of_table(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	set_table(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2); /* table has 2 entries */
	set_desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void test_indirect_loop(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	set_table(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_table(f, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

/* Unaligned indirect tables are legal and read bytewise. */
static void test_indirect_unaligned_table(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	write_desc(f->a + TABLE_GPA + 4, DATA_GPA + 0x30, 7, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, 0, TABLE_GPA + 4, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.writable, 7);
	assert_ptr_equal(f->c.seg[0].host, f->a + DATA_GPA + 0x30);
}

static void test_avail_idx_jumps_ahead(void **state)
{
	struct fx *f = *state;
	configure(f, 0);
	set_desc(f, 0, DATA_GPA, 16, 0, 0);
	put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_IDX, QSIZE); /* a full ring is fine */
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	virtq_reset(&f->q);
	configure(f, 0);
	put16(f->a + AVAIL_GPA + VIRTQ_AVAIL_IDX, QSIZE + 1);
	expect_malformed(f);
}

/* Chains summing to 4 GiB: guest "RAM" here is an inaccessible reservation,
 * so the test also proves pop never touches buffer contents. */
static void test_chain_of_4gib(void **state)
{
	struct fx *f = *state;
	const uint64_t big = 5 * (1ULL << 30);
	void *resv = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(resv != MAP_FAILED);
	f->gm.region[2] = (struct gm_region){ .gpa = 1ULL << 40, .size = big, .host = resv };
	f->gm.nr_regions = 3;

	configure(f, 0);
	set_desc(f, 0, 1ULL << 40, 0xffffffffU, 0, 0); /* just under 4 GiB: accepted */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.readable, 0xffffffffU);

	set_desc(f, 1, 1ULL << 40, 0x80000000U, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, 2, (1ULL << 40) + 0x80000000U, 0x80000000U, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), -1);
	munmap(resv, big);
}

/* Indirect tables may be longer than the ring (Linux sizes them by seg_max). */
static void test_indirect_table_longer_than_queue(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	for (unsigned i = 0; i < QSIZE; i++)
		set_table(f, i, DATA_GPA, 16, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	set_desc(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, TABLE_GPA, QSIZE * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nseg, QSIZE + 1);
}

/* ... but a chain never has more than VIRTQ_MAX_SIZE segments. */
static void test_chain_longer_than_max_via_indirect(void **state)
{
	struct fx *f = *state;
	configure(f, F_INDIRECT);
	for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++)
		set_table(f, i, DATA_GPA, 16, i + 1 < VIRTQ_MAX_SIZE ? VIRTQ_DESC_F_NEXT : 0,
			  (uint16_t)(i + 1));
	set_desc(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, TABLE_GPA, VIRTQ_MAX_SIZE * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_direct_chain),
		T(test_indirect_chain),
		T(test_mixed_chain),
		T(test_zero_length_descriptor),
		T(test_chain_copy_helpers),
		T(test_used_ring_across_index_wrap),
		T(test_event_idx_notify_across_wrap),
		T(test_flags_notify),
		T(test_notify_suppression_flags),
		T(test_notify_suppression_event_idx),
		T(test_configure_rejects),
		T(test_descriptor_loop),
		T(test_self_loop_writable),
		T(test_next_out_of_range),
		T(test_head_out_of_range),
		T(test_buffer_in_gap),
		T(test_buffer_straddles_region_a),
		T(test_buffer_straddles_region_b),
		T(test_buffer_past_ram),
		T(test_buffer_address_wraps),
		T(test_length_all_ones),
		T(test_zero_length_outside_ram),
		T(test_readable_after_writable),
		T(test_readable_after_writable_indirect),
		T(test_indirect_without_feature),
		T(test_indirect_within_indirect),
		T(test_indirect_with_next),
		T(test_indirect_len_not_multiple),
		T(test_indirect_len_zero),
		T(test_indirect_too_long),
		T(test_indirect_table_outside_ram),
		T(test_indirect_next_out_of_table),
		T(test_indirect_loop),
		T(test_indirect_unaligned_table),
		T(test_avail_idx_jumps_ahead),
		T(test_chain_of_4gib),
		T(test_indirect_table_longer_than_queue),
		T(test_chain_longer_than_max_via_indirect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
