/* libFuzzer target for the qcow2 reader (src/img/qcow2.c): header, header
 * extensions, L1/L2 tables, compressed and extended-L2 clusters. The input
 * is the image file; it is opened, checked, walked and every extent read.
 *
 * Self-contained: it includes the sources it tests. Build and run from the
 * repository root:
 *
 * build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc tests/fuzz/fuzz_qcow2.c -lz -lzstd -o fuzz_qcow2
 * run:   ./fuzz_qcow2 -max_len=65536 -max_total_time=60 CORPUS_DIR
 *
 * For tests/fuzz/run-fuzzers.sh: no extra sources (sources_fuzz_qcow2=""),
 * but the link needs -lz -lzstd (zlib1g-dev, libzstd-dev). Small seeds
 * help: `qemu-img convert [-c] -O qcow2 -o cluster_size=512 raw seed.qcow2`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "img/img_io.c"
#include "img/qcow2.c"
#include "util/util.c"

/* Enough to reach every kind of entry while keeping each input fast: a
 * hostile image may map one cluster at every guest offset. */
#define MAX_EXTENTS 2048

struct budget {
	struct qcow2 *q;
	uint8_t *buf;
	unsigned left;
	char err[256];
};

static int read_extent(void *ctx, const struct qcow2_extent *ext)
{
	struct budget *b = ctx;

	if (!b->left--)
		return 1;
	if (ext->length > b->q->cluster_size)
		abort(); /* an extent never spans clusters */
	qcow2_read_extent(b->q, ext, b->buf, b->err, sizeof(b->err));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct qcow2 q;
	struct budget b = { &q, NULL, MAX_EXTENTS, "" };

	if (fd < 0)
		fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	if (qcow2_open(&q, fd, b.err, sizeof(b.err)) < 0)
		return 0;
	qcow2_check_readable(&q, b.err, sizeof(b.err));
	b.buf = malloc(q.cluster_size);
	if (b.buf)
		qcow2_walk(&q, read_extent, &b, b.err, sizeof(b.err));
	free(b.buf);
	qcow2_close(&q);
	return 0;
}
