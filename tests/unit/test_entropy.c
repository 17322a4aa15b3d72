/* virtio-entropy through the virtio_dev.h API with a fake transport: every
 * writable byte is filled, readable ones are left alone, and two fills
 * differ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_virtio.h"
#include "virtio/entropy.h"

static uint32_t fill(struct virtio_ctx *ctx, struct virtio_entropy *e, const struct fake_seg *s,
		     unsigned n)
{
	uint32_t id, len;
	uint16_t head = fake_add_chain(ctx, 0, s, n);

	virtio_entropy_ops.queue_notify(e, 0);
	assert_true(fake_take_used(ctx, 0, &id, &len));
	assert_int_equal(id, head);
	return len;
}

static unsigned zeroes(const uint8_t *p, size_t n)
{
	unsigned z = 0;
	for (size_t i = 0; i < n; i++)
		z += !p[i];
	return z;
}

static void test_fills_and_differs(void **state)
{
	struct virtio_ctx *ctx = fake_virtio_new(1, 8, 0);
	struct virtio_entropy *e = virtio_entropy_create();
	uint64_t ro = fake_alloc(ctx, 64), a = fake_alloc(ctx, 4096), b = fake_alloc(ctx, 4096);
	uint64_t c = fake_alloc(ctx, 7);

	(void)state;
	assert_int_equal(virtio_entropy_ops.device_id, 4);
	assert_int_equal(virtio_entropy_ops.activate(e, ctx), 0);
	struct fake_seg s1[] = { { ro, 64, false }, { a, 4096, true }, { c, 7, true } };
	assert_int_equal(fill(ctx, e, s1, 3), 4096 + 7);
	struct fake_seg s2[] = { { b, 4096, true } };
	assert_int_equal(fill(ctx, e, s2, 1), 4096);
	/* Random bytes: about 16 zero bytes in 4096; all-zero would be 4096. */
	assert_true(zeroes(fake_host(ctx, a), 4096) < 100);
	assert_true(zeroes(fake_host(ctx, b), 4096) < 100);
	assert_true(memcmp(fake_host(ctx, a), fake_host(ctx, b), 4096) != 0);
	assert_int_equal(zeroes(fake_host(ctx, ro), 64), 64);
	assert_true(ctx->notified[0] >= 2);
	/* A chain with nothing to fill is returned empty. */
	struct fake_seg s3[] = { { ro, 64, false } };
	assert_int_equal(fill(ctx, e, s3, 1), 0);
	assert_int_equal(ctx->needs_reset, 0);
	virtio_entropy_ops.destroy(e);
	fake_virtio_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fills_and_differs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
