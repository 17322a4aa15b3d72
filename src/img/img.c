#include "img/img.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img/img_io.h"
#include "img/qcow2.h"
#include "img/qcow2_write.h"
#include "util/util.h"

/* Zero blocks of this size are left as holes in raw output. */
#define SPARSE_BLOCK 4096

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Prefixes the reason already in err with the file it concerns. */
static int fail_in(const char *path, char *err, size_t errlen)
{
	char *reason = xstrdup(err);

	fail(err, errlen, "%s: %s", path, reason);
	free(reason);
	return -1;
}

const char *img_format_name(enum img_format fmt)
{
	return fmt == IMG_QCOW2 ? "qcow2" : "raw";
}

static int open_input(const char *path, uint64_t *size, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end;

	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	end = lseek(fd, 0, SEEK_END);
	if (end < 0) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	*size = (uint64_t)end;
	return fd;
}

/* Truncating the output must never destroy the input. */
static int open_output(const char *path, int in_fd, char *err, size_t errlen)
{
	struct stat in_st, out_st;
	int fd;

	if (fstat(in_fd, &in_st) == 0 && stat(path, &out_st) == 0 &&
	    in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
		return fail(err, errlen, "%s: input and output are the same file", path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &out_st) < 0 || !S_ISREG(out_st.st_mode)) {
		close(fd);
		return fail(err, errlen, "%s: the output must be a regular file", path);
	}
	return fd;
}

struct raw_sink {
	struct qcow2 *q;
	int fd;
	uint8_t *buf;
	char *err;
	size_t errlen;
};

static int write_extent(void *ctx, const struct qcow2_extent *ext)
{
	struct raw_sink *s = ctx;
	int ret;

	if (ext->kind == QCOW2_EXT_ZERO)
		return 0; /* the output is a hole there already */
	if (qcow2_read_extent(s->q, ext, s->buf, s->err, s->errlen) < 0)
		return -1;
	ret = img_pwrite_sparse(s->fd, s->buf, ext->length, ext->guest_offset, SPARSE_BLOCK);
	if (ret < 0)
		return fail(s->err, s->errlen, "write failed: %s", strerror(-ret));
	return 0;
}

static int qcow2_to_raw(int in_fd, const char *in, int out_fd, const char *out, char *err,
			size_t errlen)
{
	struct qcow2 q;
	struct raw_sink sink = { &q, out_fd, NULL, err, errlen };
	int ret;

	if (qcow2_open(&q, in_fd, err, errlen) < 0)
		return fail_in(in, err, errlen);
	ret = qcow2_check_readable(&q, err, errlen);
	if (ret == 0 && ftruncate(out_fd, (off_t)q.size) < 0) {
		ret = fail(err, errlen, "%s: %s", out, strerror(errno));
	} else if (ret == 0) {
		sink.buf = xmalloc(q.cluster_size);
		ret = qcow2_walk(&q, write_extent, &sink, err, errlen);
		free(sink.buf);
		if (ret)
			fail_in(in, err, errlen);
	} else {
		fail_in(in, err, errlen);
	}
	qcow2_close(&q);
	return ret ? -1 : 0;
}

int img_convert(const char *in, enum img_format from, const char *out, enum img_format to,
		char *err, size_t errlen)
{
	uint64_t size;
	int in_fd, out_fd, ret;

	if (from == to)
		return fail(err, errlen, "converting from %s to %s is not supported",
			    img_format_name(from), img_format_name(to));
	in_fd = open_input(in, &size, err, errlen);
	if (in_fd < 0)
		return -1;
	out_fd = open_output(out, in_fd, err, errlen);
	if (out_fd < 0) {
		close(in_fd);
		return -1;
	}
	if (from == IMG_QCOW2) {
		ret = qcow2_to_raw(in_fd, in, out_fd, out, err, errlen);
	} else {
		ret = qcow2_write_from_raw(in_fd, size, out_fd, err, errlen);
		if (ret < 0)
			fail_in(out, err, errlen);
	}
	if (close(out_fd) < 0 && ret == 0)
		ret = fail(err, errlen, "%s: %s", out, strerror(errno));
	close(in_fd);
	if (ret < 0)
		unlink(out); /* a partial image would pass for a good one */
	return ret;
}

struct usage {
	uint64_t data;       /* guest bytes stored uncompressed */
	uint64_t compressed; /* guest bytes stored compressed */
	uint64_t zero;       /* guest bytes marked zero */
};

static int count_extent(void *ctx, const struct qcow2_extent *ext)
{
	struct usage *u = ctx;

	if (ext->kind == QCOW2_EXT_DATA)
		u->data += ext->length;
	else if (ext->kind == QCOW2_EXT_COMPRESSED)
		u->compressed += ext->length;
	else
		u->zero += ext->length;
	return 0;
}

static void print_size(FILE *out, const char *label, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u + 1 < (int)ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		fprintf(out, "%s: %" PRIu64 " bytes\n", label, bytes);
	else
		fprintf(out, "%s: %" PRIu64 " bytes (%.3g %s)\n", label, bytes, v, units[u]);
}

static void print_features(FILE *out, const struct qcow2 *q)
{
	const char *sep = "";

	if (!q->incompatible)
		return;
	fputs("incompatible features: ", out);
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *name = qcow2_incompat_name(q, bit);

		if (!(q->incompatible >> bit & 1))
			continue;
		if (name)
			fprintf(out, "%s%s", sep, name);
		else
			fprintf(out, "%sbit %u", sep, bit);
		sep = ", ";
	}
	fputc('\n', out);
}

static int qcow2_info(int fd, const char *path, FILE *out, char *err, size_t errlen)
{
	struct qcow2 q;
	struct usage u = { 0, 0, 0 };
	int ret;

	if (qcow2_open(&q, fd, err, errlen) < 0)
		return fail_in(path, err, errlen);
	ret = qcow2_walk(&q, count_extent, &u, err, errlen);
	fprintf(out, "image: %s\nfile format: qcow2\n", path);
	print_size(out, "virtual size", q.size);
	fprintf(out, "cluster size: %" PRIu64 "\n", q.cluster_size);
	fprintf(out, "version: %" PRIu32 "\n", q.version);
	fprintf(out, "compression type: %s\n", q.compression == QCOW2_ZSTD ? "zstd" : "zlib");
	fprintf(out, "extended l2: %s\n", q.extended_l2 ? "yes" : "no");
	fprintf(out, "refcount bits: %u\n", 1U << q.refcount_order);
	if (q.backing_file[0])
		fprintf(out, "backing file: %s\n", q.backing_file);
	if (q.crypt_method)
		fprintf(out, "encrypted: %s\n", q.crypt_method == 1 ? "aes" : "luks");
	print_features(out, &q);
	if (ret == 0) {
		print_size(out, "allocated bytes", u.data + u.compressed);
		if (u.compressed)
			print_size(out, "compressed bytes", u.compressed);
		if (u.zero)
			print_size(out, "zero bytes", u.zero);
	} else {
		fail_in(path, err, errlen);
	}
	qcow2_close(&q);
	return ret ? -1 : 0;
}

/* Bytes of the file inside data extents (holes excluded). */
static uint64_t raw_allocated(int fd, uint64_t size)
{
	uint64_t total = 0;
	off_t pos = 0;

	while ((uint64_t)pos < size) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		off_t hole;

		if (data < 0)
			return errno == ENXIO ? total : size;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return size;
		total += (uint64_t)(hole - data);
		pos = hole;
	}
	return total;
}

int img_info(const char *path, FILE *out, char *err, size_t errlen)
{
	uint64_t size;
	uint8_t magic[4] = { 0 };
	struct stat st;
	int fd = open_input(path, &size, err, errlen);
	int ret = 0;

	if (fd < 0)
		return -1;
	if (img_pread_padded(fd, magic, sizeof(magic), 0) == 0 &&
	    !memcmp(magic, "QFI\xfb", 4)) {
		ret = qcow2_info(fd, path, out, err, errlen);
	} else {
		fprintf(out, "image: %s\nfile format: raw\n", path);
		print_size(out, "virtual size", size);
		print_size(out, "allocated bytes", raw_allocated(fd, size));
	}
	if (ret == 0 && fstat(fd, &st) == 0)
		print_size(out, "disk size", (uint64_t)st.st_blocks * 512);
	close(fd);
	return ret;
}
