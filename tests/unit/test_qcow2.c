/* Unit tests of src/img: the qcow2 reader on small crafted images (each
 * header and table check), compressed clusters (deflate, zstd), extended
 * L2 entries, the raw->qcow2 writer read back, and `alioth img` argument
 * handling. Images live in memfds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cmocka.h>

#include "img/img_cli.h"
#include "img/qcow2.h"
#include "img/qcow2_write.h"
#include "util/exit_status.h"

struct img {
	uint8_t *buf;
	size_t len;
	unsigned cb; /* cluster bits */
	uint64_t cs;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* Header in cluster 0, refcount table in cluster 1, L1 table in cluster 2;
 * the other clusters are the test's. */
static void img_init(struct img *m, unsigned cluster_bits, unsigned clusters, uint64_t size)
{
	uint64_t l2_entries;

	m->cb = cluster_bits;
	m->cs = 1ULL << cluster_bits;
	m->len = clusters * m->cs;
	m->buf = calloc(1, m->len);
	assert_non_null(m->buf);
	l2_entries = m->cs / 8;
	memcpy(m->buf, "QFI\xfb", 4);
	put32(m->buf + 4, 3);
	put32(m->buf + 20, cluster_bits);
	put64(m->buf + 24, size);
	put32(m->buf + 36, (uint32_t)((size + (l2_entries << cluster_bits) - 1) /
				      (l2_entries << cluster_bits)));
	put64(m->buf + 40, 2 * m->cs);
	put64(m->buf + 48, m->cs);
	put32(m->buf + 56, 1);
	put32(m->buf + 96, 4);
	put32(m->buf + 100, 104);
}

static void set_l1(struct img *m, unsigned index, uint64_t entry)
{
	put64(m->buf + 2 * m->cs + index * 8, entry);
}

static void set_l2(struct img *m, unsigned l2_cluster, unsigned index, uint64_t entry)
{
	put64(m->buf + l2_cluster * m->cs + index * 8, entry);
}

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("qcow2-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

struct collected {
	struct qcow2 *q;
	struct qcow2_extent ext[64];
	size_t n;
	uint8_t data[64][1024]; /* first bytes of each extent */
	char *err;
};

static int collect(void *ctx, const struct qcow2_extent *ext)
{
	struct collected *c = ctx;
	uint8_t *buf = malloc(ext->length);

	assert_non_null(buf);
	if (qcow2_read_extent(c->q, ext, buf, c->err, 256) < 0) {
		free(buf);
		return -1;
	}
	if (c->n < 64) {
		c->ext[c->n] = *ext;
		memcpy(c->data[c->n], buf, ext->length < 1024 ? ext->length : 1024);
		c->n++;
	}
	free(buf);
	return 0;
}

static char err_text[256];

/* Opens, checks and walks the image, reading every extent. Returns "" on
 * success or the one-line reason. */
static const char *run_image(const struct img *m, struct collected *c)
{
	struct qcow2 q;
	int fd = memfd_with(m->buf, m->len);
	int ret;

	err_text[0] = '\0';
	memset(c, 0, sizeof(*c));
	c->q = &q;
	c->err = err_text;
	ret = qcow2_open(&q, fd, err_text, sizeof(err_text));
	if (ret == 0) {
		ret = qcow2_check_readable(&q, err_text, sizeof(err_text));
		if (ret == 0)
			ret = qcow2_walk(&q, collect, c, err_text, sizeof(err_text));
		qcow2_close(&q);
	}
	close(fd);
	assert_true(ret == 0 ? err_text[0] == '\0' : err_text[0] != '\0');
	assert_null(strchr(err_text, '\n'));
	return err_text;
}

static struct collected coll;

static void assert_fails(const struct img *m, const char *wanted)
{
	const char *e = run_image(m, &coll);

	if (!strstr(e, wanted))
		fail_msg("expected error containing '%s', got '%s'", wanted, e);
}

static void assert_ok(const struct img *m)
{
	const char *e = run_image(m, &coll);

	if (e[0])
		fail_msg("unexpected error '%s'", e);
}

static size_t deflate_raw(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream zs;
	size_t n;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (uint8_t *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	n = cap - zs.avail_out;
	deflateEnd(&zs);
	return n;
}

/* A compressed descriptor: offset and additional 512-byte sectors. */
static uint64_t cmpr_entry(unsigned cluster_bits, uint64_t off, size_t len)
{
	unsigned offset_bits = 62 - (cluster_bits - 8);
	uint64_t sectors = (off + len - 1) / 512 - off / 512;

	return 1ULL << 62 | sectors << offset_bits | off;
}

/* 512-byte clusters, 64 KiB virtual: data, deflate, zero, unallocated. */
static void build_basic(struct img *m)
{
	uint8_t plain[512];
	size_t clen;

	img_init(m, 9, 8, 64 * 1024);
	set_l1(m, 0, 3 * 512 | 1ULL << 63);
	memset(m->buf + 4 * 512, 0x11, 512);
	set_l2(m, 3, 0, 4 * 512 | 1ULL << 63);
	for (int i = 0; i < 512; i++)
		plain[i] = (uint8_t)(i % 7);
	/* compressed data at an unaligned offset inside cluster 5 */
	clen = deflate_raw(plain, sizeof(plain), m->buf + 5 * 512 + 100, 512 - 100);
	set_l2(m, 3, 2, cmpr_entry(9, 5 * 512 + 100, clen));
	set_l2(m, 3, 5, 1); /* zero flag */
	set_l2(m, 3, 6, 6 * 512 | 1); /* zero flag over a preallocated cluster */
}

static void test_basic_image(void **state)
{
	struct img m;

	(void)state;
	build_basic(&m);
	assert_ok(&m);
	assert_int_equal(coll.n, 4);
	assert_int_equal(coll.ext[0].kind, QCOW2_EXT_DATA);
	assert_int_equal(coll.ext[0].guest_offset, 0);
	assert_int_equal(coll.data[0][511], 0x11);
	assert_int_equal(coll.ext[1].kind, QCOW2_EXT_COMPRESSED);
	assert_int_equal(coll.ext[1].guest_offset, 1024);
	for (int i = 0; i < 512; i++)
		assert_int_equal(coll.data[1][i], i % 7);
	assert_int_equal(coll.ext[2].kind, QCOW2_EXT_ZERO);
	assert_int_equal(coll.ext[2].guest_offset, 5 * 512);
	assert_int_equal(coll.ext[3].kind, QCOW2_EXT_ZERO);
	free(m.buf);
}

static void test_virtual_size_clamps_last_cluster(void **state)
{
	struct img m;

	(void)state;
	build_basic(&m);
	put64(m.buf + 24, 300); /* inside the first cluster */
	assert_ok(&m);
	assert_int_equal(coll.n, 1);
	assert_int_equal(coll.ext[0].length, 300);
	free(m.buf);
}

static void test_v2_header(void **state)
{
	struct img m;
	struct qcow2 q;
	int fd;

	(void)state;
	build_basic(&m);
	put32(m.buf + 4, 2);
	/* v2 has no feature fields: these bytes are an unknown extension */
	put32(m.buf + 72, 0x12345678);
	put32(m.buf + 76, 8);
	assert_ok(&m);
	assert_int_equal(coll.n, 4); /* QEMU reads the zero flag in v2 too */
	fd = memfd_with(m.buf, m.len);
	assert_int_equal(qcow2_open(&q, fd, err_text, sizeof(err_text)), 0);
	assert_int_equal(q.version, 2);
	assert_int_equal(q.header_length, 72);
	assert_int_equal(q.refcount_order, 4);
	assert_int_equal(q.incompatible, 0);
	qcow2_close(&q);
	close(fd);
	free(m.buf);
}

static void test_header_errors(void **state)
{
	static const struct {
		size_t off;
		int width; /* 4 or 8 */
		uint64_t value;
		const char *error;
	} cases[] = {
		{ 0, 4, 0x514649fa, "not a qcow2 image: magic is 51 46 49 fa" },
		{ 4, 4, 1, "unsupported qcow2 version 1" },
		{ 4, 4, 4, "unsupported qcow2 version 4" },
		{ 20, 4, 8, "invalid cluster_bits 8 (must be 9..21)" },
		{ 20, 4, 22, "invalid cluster_bits 22" },
		{ 20, 4, 0xffffffff, "invalid cluster_bits" },
		{ 100, 4, 100, "header length 100 is below the minimum of 104" },
		{ 100, 4, 1024, "exceeds the cluster size" },
		{ 96, 4, 7, "invalid refcount order 7" },
		{ 24, 8, 1ULL << 40, "too small for the virtual size" },
		{ 24, 8, 1ULL << 63, "too large" },
		{ 36, 4, 0x10000000, "L1 table of 268435456 entries is too large" },
		{ 36, 4, 400, "L1 table at 0x400 runs past the end of the file" },
		{ 40, 8, 1000, "L1 table offset 0x3e8 is invalid" },
		{ 40, 8, 0, "L1 table offset 0x0 is invalid" },
		{ 40, 8, 1ULL << 62, "runs past the end of the file" },
		{ 48, 8, 100, "refcount table offset 0x64 is invalid" },
		{ 48, 8, 1ULL << 40, "refcount table offset" },
		{ 56, 4, 0x100000, "refcount table of 536870912 bytes is too large" },
		{ 60, 4, 70000, "too many snapshots" },
		{ 32, 4, 3, "unknown encryption method 3" },
		{ 32, 4, 1, "encrypted images are not supported (AES encryption)" },
		{ 32, 4, 2, "encrypted images are not supported (LUKS encryption)" },
		{ 72, 8, 1ULL << 2, "external data files are not supported" },
		{ 72, 8, 1ULL << 1, "marked corrupt" },
		{ 72, 8, 1ULL << 5, "unsupported qcow2 incompatible feature bit 5" },
		{ 72, 8, 1ULL << 3, "contradicts the compression feature bit" },
		{ 72, 8, 1ULL << 4, "extended L2 entries need clusters of at least 16 KiB" },
		{ 16, 4, 2000, "backing file name of 2000 bytes is too long" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct img m;

		build_basic(&m);
		if (cases[i].width == 4)
			put32(m.buf + cases[i].off, (uint32_t)cases[i].value);
		else
			put64(m.buf + cases[i].off, cases[i].value);
		if (cases[i].off == 16) /* a name needs an offset too */
			put64(m.buf + 8, 200);
		assert_fails(&m, cases[i].error);
		free(m.buf);
	}
}

static void test_dirty_image_is_readable(void **state)
{
	struct img m;

	(void)state;
	build_basic(&m);
	put64(m.buf + 72, 1); /* dirty: refcounts may be stale, data is fine */
	assert_ok(&m);
	free(m.buf);
}

static void test_truncated_header(void **state)
{
	struct img m;

	(void)state;
	build_basic(&m);
	m.len = 71;
	assert_fails(&m, "file is too small for a header");
	m.len = 100;
	assert_fails(&m, "too small for a qcow2 v3 header");
	m.len = 0;
	assert_fails(&m, "file is too small");
	free(m.buf);
}

static void test_backing_file_named(void **state)
{
	struct img m;

	(void)state;
	build_basic(&m);
	put64(m.buf + 8, 400);
	put32(m.buf + 16, 8);
	memcpy(m.buf + 400, "base.img", 8);
	assert_fails(&m, "backing files are not supported (backing file 'base.img')");
	put64(m.buf + 8, 510); /* name runs out of the header cluster */
	assert_fails(&m, "outside the header cluster");
	free(m.buf);
}

static void test_extensions(void **state)
{
	struct img m;
	uint8_t *e;

	(void)state;
	build_basic(&m);
	put64(m.buf + 72, 1ULL << 9);
	e = m.buf + 104;
	/* an unknown extension, then a feature name table naming bit 9 */
	put32(e, 0xdeadbeef);
	put32(e + 4, 3);
	e += 16;
	put32(e, 0x6803f857);
	put32(e + 4, 48);
	e[8] = 0;
	e[9] = 9;
	memcpy(e + 10, "frobnication", 12);
	assert_fails(&m, "incompatible feature bit 9 (frobnication)");
	/* an extension longer than the header cluster */
	put32(e + 4, 1000);
	assert_fails(&m, "header extension 0x6803f857 at 0x78 runs past the header cluster");
	put32(e + 4, 0xffffffff);
	assert_fails(&m, "runs past the header cluster");
	free(m.buf);
}

static void test_external_data_file_named(void **state)
{
	struct img m;

	(void)state;
	build_basic(&m);
	put64(m.buf + 72, 1ULL << 2);
	put32(m.buf + 104, 0x44415441);
	put32(m.buf + 108, 7);
	memcpy(m.buf + 112, "data\x01.x", 7);
	assert_fails(&m, "external data files are not supported (data file 'data?.x')");
	free(m.buf);
}

static void test_compression_type_field(void **state)
{
	struct img m;

	(void)state;
	build_basic(&m);
	put32(m.buf + 100, 112);
	m.buf[104] = 2;
	assert_fails(&m, "unknown compression type 2");
	m.buf[104] = 1; /* zstd without the feature bit */
	assert_fails(&m, "contradicts the compression feature bit");
	free(m.buf);
}

static void test_table_errors(void **state)
{
	struct img m;

	(void)state;
	img_init(&m, 12, 6, 1 << 20); /* 4 KiB clusters can be misaligned */
	set_l1(&m, 0, 3 * 4096 + 512);
	assert_fails(&m, "L2 table offset 0x3200 (L1 0) is not cluster aligned");
	set_l1(&m, 0, 3 * 4096);
	set_l2(&m, 3, 7, 4 * 4096 + 1024);
	assert_fails(&m, "data cluster offset 0x4400 (L1 0, L2 7) is not cluster aligned");
	free(m.buf);

	build_basic(&m);
	set_l1(&m, 0, 8 * 512);
	assert_fails(&m, "L2 table at 0x1000 (L1 0) runs past the end of the file");
	set_l1(&m, 0, 0x00fffffffffffe00ULL);
	assert_fails(&m, "runs past the end of the file");
	free(m.buf);

	build_basic(&m);
	set_l2(&m, 3, 7, 4 * 512 + 512);
	assert_ok(&m); /* cluster 5, inside the file */
	set_l2(&m, 3, 7, 100 * 512);
	assert_fails(&m, "data cluster at 0xc800 (L1 0, L2 7) lies past the end of the file");
	set_l2(&m, 3, 7, cmpr_entry(9, 100 * 512, 10));
	assert_fails(&m, "compressed cluster at 0xc800 (L1 0, L2 7) lies past the end of the file");
	set_l2(&m, 3, 7, cmpr_entry(9, 4 * 512, 512)); /* not deflate data */
	assert_fails(&m, "deflate cluster at 0x800 (guest 0xe00) does not decompress to one cluster");
	free(m.buf);
}

static void test_compressed_tail_past_eof(void **state)
{
	struct img m;
	uint8_t plain[512];
	size_t clen;

	(void)state;
	/* the descriptor's sector count may reach beyond the end of the file */
	img_init(&m, 9, 6, 4096);
	set_l1(&m, 0, 3 * 512);
	memset(plain, 0x42, sizeof(plain));
	clen = deflate_raw(plain, sizeof(plain), m.buf + 5 * 512, 512);
	assert_true(clen < 512);
	set_l2(&m, 3, 1, 1ULL << 62 | 1ULL << 61 | 5 * 512); /* one more sector */
	m.len = 5 * 512 + clen;
	assert_ok(&m);
	assert_int_equal(coll.n, 1);
	assert_int_equal(coll.data[0][0], 0x42);
	assert_int_equal(coll.data[0][511], 0x42);
	free(m.buf);
}

static void test_zstd_cluster(void **state)
{
	struct img m;
	uint8_t plain[4096];
	size_t clen;

	(void)state;
	img_init(&m, 12, 6, 1 << 20);
	put32(m.buf + 100, 112);
	m.buf[104] = 1;
	put64(m.buf + 72, 1ULL << 3);
	set_l1(&m, 0, 3 * 4096);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i / 100);
	clen = ZSTD_compress(m.buf + 4 * 4096 + 512, 4096 - 512, plain, sizeof(plain), 3);
	assert_false(ZSTD_isError(clen));
	set_l2(&m, 3, 9, cmpr_entry(12, 4 * 4096 + 512, clen));
	assert_ok(&m);
	assert_int_equal(coll.n, 1);
	assert_int_equal(coll.ext[0].guest_offset, 9 * 4096);
	assert_memory_equal(coll.data[0], plain, 1024);
	/* a frame that ends before the cluster is full */
	clen = ZSTD_compress(m.buf + 4 * 4096 + 512, 4096 - 512, plain, 2048, 3);
	set_l2(&m, 3, 9, cmpr_entry(12, 4 * 4096 + 512, clen));
	assert_fails(&m, "zstd cluster at 0x4200 (guest 0x9000) does not decompress");
	free(m.buf);
}

static void test_extended_l2(void **state)
{
	struct img m;
	uint64_t cs = 1 << 14, sc = cs / 32;

	(void)state;
	img_init(&m, 14, 6, 1 << 20);
	put64(m.buf + 72, 1ULL << 4);
	set_l1(&m, 0, 3 * cs);
	memset(m.buf + 4 * cs, 0x77, cs);
	/* entry 1: subcluster 0 and 5 allocated, 2 zero, the rest unallocated */
	put64(m.buf + 3 * cs + 16, 4 * cs);
	put64(m.buf + 3 * cs + 24, 1ULL << 0 | 1ULL << 5 | 1ULL << (32 + 2));
	assert_ok(&m);
	assert_int_equal(coll.n, 3);
	assert_int_equal(coll.ext[0].kind, QCOW2_EXT_DATA);
	assert_int_equal(coll.ext[0].guest_offset, cs);
	assert_int_equal(coll.ext[0].length, sc);
	assert_int_equal(coll.ext[1].kind, QCOW2_EXT_ZERO);
	assert_int_equal(coll.ext[1].guest_offset, cs + 2 * sc);
	assert_int_equal(coll.ext[2].guest_offset, cs + 5 * sc);
	assert_int_equal(coll.ext[2].host_offset, 4 * cs + 5 * sc);
	assert_int_equal(coll.data[2][0], 0x77);
	put64(m.buf + 3 * cs + 24, 1ULL << 3 | 1ULL << 35);
	assert_fails(&m, "marks subclusters both allocated and zero");
	put64(m.buf + 3 * cs + 16, 0);
	put64(m.buf + 3 * cs + 24, 1);
	assert_fails(&m, "subclusters allocated without a host cluster");
	free(m.buf);
}

static void test_writer_round_trip(void **state)
{
	size_t size = 3 * 65536 + 1000; /* rounded up to 512 in the image */
	uint8_t *raw = calloc(1, size);
	uint8_t *img;
	int in, out;
	off_t len;
	struct qcow2 q;
	struct collected *c = &coll;

	(void)state;
	assert_non_null(raw);
	memset(raw + 70000, 0xa5, 100); /* cluster 1 */
	memset(raw + size - 10, 0x5a, 10); /* partial last cluster */
	in = memfd_with(raw, size);
	out = memfd_create("out", MFD_CLOEXEC);
	assert_int_equal(qcow2_write_from_raw(in, size, out, err_text, sizeof(err_text)), 0);
	len = lseek(out, 0, SEEK_END);
	/* header, L1, 2 data clusters, L2, refcount block, refcount table */
	assert_int_equal(len, 7 * 65536);
	img = malloc((size_t)len);
	assert_int_equal(pread(out, img, (size_t)len, 0), len);
	assert_memory_equal(img, "QFI\xfb\0\0\0\3", 8);
	/* every cluster has refcount 1 */
	for (int i = 0; i < 7; i++)
		assert_int_equal(img[5 * 65536 + 2 * i + 1], 1);
	assert_int_equal(img[5 * 65536 + 2 * 7 + 1], 0);
	free(img);

	memset(c, 0, sizeof(*c));
	c->q = &q;
	c->err = err_text;
	assert_int_equal(qcow2_open(&q, out, err_text, sizeof(err_text)), 0);
	assert_int_equal(q.size, 3 * 65536 + 1024);
	assert_int_equal(qcow2_check_readable(&q, err_text, sizeof(err_text)), 0);
	assert_int_equal(qcow2_walk(&q, collect, c, err_text, sizeof(err_text)), 0);
	assert_int_equal(c->n, 2);
	assert_int_equal(c->ext[0].guest_offset, 65536);
	assert_int_equal(c->ext[1].guest_offset, 3 * 65536);
	assert_int_equal(c->ext[1].length, 1024);
	assert_int_equal(c->data[1][999], 0x5a);
	assert_int_equal(c->data[1][1000], 0);
	qcow2_close(&q);
	close(in);
	close(out);
	free(raw);
}

/* Runs `alioth img ...` through img_main; returns the exit status. */
static char *cli_out, *cli_err;

static int img_cli(int argc, char **argv)
{
	size_t olen, elen;
	FILE *out, *err;
	int ret;

	free(cli_out);
	free(cli_err);
	out = open_memstream(&cli_out, &olen);
	err = open_memstream(&cli_err, &elen);
	ret = img_main(argc, argv, out, err);
	fclose(out);
	fclose(err);
	return ret;
}

#define IMG(...)                                                               \
	({                                                                     \
		char *argv_[] = { "img", __VA_ARGS__ };                        \
		img_cli((int)(sizeof(argv_) / sizeof(argv_[0])), argv_);       \
	})

static void test_cli(void **state)
{
	(void)state;
	assert_int_equal(IMG("--help"), 0);
	assert_non_null(strstr(cli_out, "Usage: alioth img <COMMAND>\n"));
	assert_non_null(strstr(cli_out, "  convert  Convert an image from one format to another.\n"));
	assert_int_equal(IMG("convert", "-h"), 0);
	assert_non_null(strstr(cli_out, "Usage: alioth img convert [OPTIONS] <INPUT> <OUTPUT>\n"));
	assert_non_null(strstr(cli_out, "  -O, --target-format <TARGET_FORMAT>  Output file format [default: raw]\n"));
	assert_int_equal(IMG("help", "info"), 0);
	assert_non_null(strstr(cli_out, "Usage: alioth img info <FILE>\n"));

	assert_int_equal(img_cli(1, (char *[]){ "img" }), EXIT_USAGE);
	assert_non_null(strstr(cli_err, "Usage: alioth img <COMMAND>"));
	assert_int_equal(IMG("convert", "-f"), EXIT_USAGE);
	assert_string_equal(cli_err, "alioth: img convert: a value is required for '--source-format <SOURCE_FORMAT>'\n");
	assert_int_equal(IMG("convert", "--target-format=vhd", "a", "b"), EXIT_USAGE);
	assert_string_equal(cli_err, "alioth: img convert: --target-format: unknown format 'vhd' (expected qcow2 or raw)\n");
	assert_int_equal(IMG("convert", "-fQcow2", "-O=Raw", "a"), EXIT_USAGE);
	assert_string_equal(cli_err, "alioth: img convert: the required argument <OUTPUT> was not provided\n");
	assert_int_equal(IMG("convert", "a", "b", "c"), EXIT_USAGE);
	assert_string_equal(cli_err, "alioth: img convert: unexpected argument 'c'\n");
	assert_int_equal(IMG("convert", "-x", "a", "b"), EXIT_USAGE);
	assert_int_equal(IMG("convert", "-O", "qcow2", "-f", "qcow2", "a", "b"), EXIT_USAGE);
	assert_string_equal(cli_err, "alioth: img convert: converting from qcow2 to qcow2 is not supported\n");
	assert_int_equal(IMG("info"), EXIT_USAGE);
	assert_int_equal(IMG("resize"), EXIT_USAGE);
	assert_string_equal(cli_err, "alioth: img: unrecognized subcommand 'resize' (see 'alioth img --help')\n");

	/* "--" makes a dash-leading name an operand; a missing input fails with 1 */
	assert_int_equal(IMG("convert", "--", "-no-such-file", "/nonexistent/out"), 1);
	assert_string_equal(cli_err, "alioth: img convert: -no-such-file: No such file or directory\n");
	assert_int_equal(IMG("info", "/nonexistent"), 1);
	assert_string_equal(cli_err, "alioth: img info: /nonexistent: No such file or directory\n");
}

static int teardown(void **state)
{
	(void)state;
	free(cli_out);
	free(cli_err);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_image),
		cmocka_unit_test(test_virtual_size_clamps_last_cluster),
		cmocka_unit_test(test_v2_header),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_dirty_image_is_readable),
		cmocka_unit_test(test_truncated_header),
		cmocka_unit_test(test_backing_file_named),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_external_data_file_named),
		cmocka_unit_test(test_compression_type_field),
		cmocka_unit_test(test_table_errors),
		cmocka_unit_test(test_compressed_tail_past_eof),
		cmocka_unit_test(test_zstd_cluster),
		cmocka_unit_test(test_extended_l2),
		cmocka_unit_test(test_writer_round_trip),
		cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
