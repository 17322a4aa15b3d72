#include "img/qcow2_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img/img_io.h"
#include "img/qcow2.h"
#include "util/util.h"

#define HEADER_LENGTH 112 /* v3 header with the compression type byte, padded */
#define REFCOUNT_ORDER 4
#define COPIED (1ULL << 63) /* refcount is exactly one */

struct writer {
	int in_fd;
	int out_fd;
	uint64_t size;        /* virtual size */
	uint64_t cs;          /* cluster size */
	uint32_t l2_entries;
	uint32_t l1_size;
	uint64_t *l1;         /* big-endian entries, as written */
	uint64_t *l2;         /* the L2 table being filled, big-endian */
	int64_t l2_index;     /* L1 index of *l2, -1 if none */
	bool l2_used;
	uint64_t next;        /* next free cluster index */
	uint8_t *buf;         /* one cluster */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct writer *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, w->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t be64_value(uint64_t v)
{
	uint64_t out;

	put_be64((uint8_t *)&out, v);
	return out;
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static int write_at(struct writer *w, const void *buf, size_t len, uint64_t off)
{
	int ret = img_pwrite_all(w->out_fd, buf, len, off);

	if (ret < 0)
		return fail(w, "write failed: %s", strerror(-ret));
	return 0;
}

static uint64_t alloc_cluster(struct writer *w)
{
	return w->next++ * w->cs;
}

/* An L2 table is written right after the data it maps, once the walk
 * leaves its range, so only one table is ever held in memory. */
static int flush_l2(struct writer *w)
{
	uint64_t off;

	if (w->l2_index < 0 || !w->l2_used)
		return 0;
	off = alloc_cluster(w);
	if (write_at(w, w->l2, w->cs, off) < 0)
		return -1;
	w->l1[w->l2_index] = be64_value(off | COPIED);
	memset(w->l2, 0, w->cs);
	w->l2_used = false;
	return 0;
}

static int copy_cluster(struct writer *w, uint64_t index)
{
	uint64_t guest = index * w->cs;
	size_t len = (size_t)MIN(w->cs, w->size - guest);
	uint64_t l1_index = index / w->l2_entries;
	uint64_t off;
	int ret = img_pread_padded(w->in_fd, w->buf, len, guest);

	if (ret < 0)
		return fail(w, "read failed: %s", strerror(-ret));
	memset(w->buf + len, 0, w->cs - len);
	if (img_is_zero(w->buf, w->cs))
		return 0;
	if ((int64_t)l1_index != w->l2_index) {
		if (flush_l2(w) < 0)
			return -1;
		w->l2_index = (int64_t)l1_index;
	}
	off = alloc_cluster(w);
	if (write_at(w, w->buf, w->cs, off) < 0)
		return -1;
	w->l2[index % w->l2_entries] = be64_value(off | COPIED);
	w->l2_used = true;
	return 0;
}

/* Returns the first cluster at or after index that may hold data, using
 * the input's holes when the file system reports them. */
static uint64_t next_data_cluster(struct writer *w, uint64_t index, uint64_t clusters)
{
	off_t data = lseek(w->in_fd, (off_t)(index * w->cs), SEEK_DATA);

	if (data < 0)
		return errno == ENXIO ? clusters : index;
	return MAX(index, (uint64_t)data / w->cs);
}

static int copy_data(struct writer *w)
{
	uint64_t clusters = div_round_up(w->size, w->cs);
	uint64_t i = 0;

	while ((i = next_data_cluster(w, i, clusters)) < clusters) {
		off_t hole = lseek(w->in_fd, (off_t)(i * w->cs), SEEK_HOLE);
		uint64_t end = hole < 0 ? clusters : MIN(clusters, div_round_up((uint64_t)hole, w->cs));

		if (end <= i)
			end = i + 1;
		for (; i < end; i++)
			if (copy_cluster(w, i) < 0)
				return -1;
	}
	return flush_l2(w);
}

/* Every cluster of the file is used exactly once, so the refcount blocks
 * hold 1 for clusters [0, total) - including themselves and the table. */
static int write_refcounts(struct writer *w, uint64_t *rt_offset, uint32_t *rt_clusters)
{
	uint64_t per_block = w->cs * 8 / (1U << REFCOUNT_ORDER);
	uint64_t first = w->next, blocks = 0, table = 0, total;

	for (;;) {
		uint64_t b = div_round_up(first + blocks + table, per_block);
		uint64_t t = div_round_up(b * 8, w->cs);

		if (b == blocks && t == table)
			break;
		blocks = b;
		table = t;
	}
	total = first + blocks + table;
	if (table * w->cs > QCOW2_MAX_REFTABLE_BYTES)
		return fail(w, "image too large for a refcount table");
	for (uint64_t b = 0; b < blocks; b++) {
		memset(w->buf, 0, w->cs);
		for (uint64_t c = b * per_block; c < total && c < (b + 1) * per_block; c++)
			put_be16(w->buf + (c - b * per_block) * 2, 1);
		if (write_at(w, w->buf, w->cs, alloc_cluster(w)) < 0)
			return -1;
	}
	*rt_offset = w->next * w->cs;
	*rt_clusters = (uint32_t)table;
	for (uint64_t t = 0; t < table; t++) {
		memset(w->buf, 0, w->cs);
		for (uint64_t e = 0; e < w->cs / 8 && t * (w->cs / 8) + e < blocks; e++)
			put_be64(w->buf + e * 8, (first + t * (w->cs / 8) + e) * w->cs);
		if (write_at(w, w->buf, w->cs, alloc_cluster(w)) < 0)
			return -1;
	}
	return 0;
}

static int write_header(struct writer *w, uint64_t rt_offset, uint32_t rt_clusters)
{
	uint8_t *h = w->buf;

	memset(h, 0, w->cs);
	put_be32(h, QCOW2_MAGIC);
	put_be32(h + 4, 3);
	put_be32(h + 20, QCOW2_WRITE_CLUSTER_BITS);
	put_be64(h + 24, w->size);
	put_be32(h + 36, w->l1_size);
	put_be64(h + 40, w->cs); /* L1 table in cluster 1 */
	put_be64(h + 48, rt_offset);
	put_be32(h + 56, rt_clusters);
	put_be32(h + 96, REFCOUNT_ORDER);
	put_be32(h + 100, HEADER_LENGTH);
	/* compression type 0 (deflate) and the end-of-extensions marker are zeros */
	return write_at(w, h, w->cs, 0);
}

static int write_image(struct writer *w)
{
	uint64_t l1_clusters = div_round_up((uint64_t)w->l1_size * 8, w->cs);
	uint64_t rt_offset = 0;
	uint32_t rt_clusters = 0;

	w->next = 1 + l1_clusters;
	if (copy_data(w) < 0 || write_refcounts(w, &rt_offset, &rt_clusters) < 0)
		return -1;
	for (uint64_t c = 0; c < l1_clusters; c++) {
		uint64_t n = MIN(w->cs / 8, w->l1_size - c * (w->cs / 8));

		memset(w->buf, 0, w->cs);
		memcpy(w->buf, w->l1 + c * (w->cs / 8), n * 8);
		if (write_at(w, w->buf, w->cs, (1 + c) * w->cs) < 0)
			return -1;
	}
	return write_header(w, rt_offset, rt_clusters);
}

int qcow2_write_from_raw(int in_fd, uint64_t size, int out_fd, char *err, size_t errlen)
{
	struct writer w = {
		.in_fd = in_fd,
		.out_fd = out_fd,
		.size = ALIGN_UP(size, 512),
		.cs = 1ULL << QCOW2_WRITE_CLUSTER_BITS,
		.l2_index = -1,
		.err = err,
		.errlen = errlen,
	};
	uint64_t l1_size;
	int ret;

	if (size > INT64_MAX - 512) {
		snprintf(err, errlen, "input of %" PRIu64 " bytes is too large", size);
		return -1;
	}
	w.l2_entries = (uint32_t)(w.cs / 8);
	l1_size = MAX(1, div_round_up(w.size, w.cs * w.l2_entries));
	if (l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		snprintf(err, errlen, "input of %" PRIu64 " bytes is too large for qcow2", size);
		return -1;
	}
	w.l1_size = (uint32_t)l1_size;
	w.l1 = xcalloc(l1_size, 8);
	w.l2 = xcalloc(1, w.cs);
	w.buf = xmalloc(w.cs);
	ret = write_image(&w);
	free(w.l1);
	free(w.l2);
	free(w.buf);
	return ret;
}
