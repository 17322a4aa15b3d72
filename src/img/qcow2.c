#include "img/qcow2.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "img/img_io.h"
#include "util/util.h"

#define V2_HEADER_LEN 72
#define V3_HEADER_LEN 104
#define MAX_SNAPSHOTS 65536
#define SECTOR 512ULL

/* Bits 9..55 of L1 entries and standard L2 entries. */
#define OFFSET_MASK 0x00fffffffffffe00ULL
#define L2_COMPRESSED (1ULL << 62)
#define L2_ZERO       (1ULL << 0)

#define EXT_END           0x00000000U
#define EXT_BACKING_FMT   0xe2792acaU
#define EXT_FEATURE_NAMES 0x6803f857U
#define EXT_BITMAPS       0x23852875U
#define EXT_CRYPTO        0x0537be77U
#define EXT_DATA_FILE     0x44415441U
#define FEATURE_NAME_ENTRY 48

struct qcow2_zstate {
	z_stream zs;
	bool zs_ready;
	ZSTD_DCtx *zd;
};

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Copies a name from the file, replacing what would garble a message. */
static void copy_name(char *dst, size_t dstlen, const uint8_t *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < dstlen && src[i]; i++)
		dst[n++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[n] = '\0';
}

/* True if [off, off + len) lies inside a file of file_size bytes. */
static bool in_file(uint64_t off, uint64_t len, uint64_t file_size)
{
	return off <= file_size && len <= file_size - off;
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static int parse_v3_fields(struct qcow2 *q, const uint8_t *buf, size_t len, char *err,
			   size_t errlen)
{
	if (len < V3_HEADER_LEN)
		return fail(err, errlen, "file is too small for a qcow2 v3 header");
	q->incompatible = be64(buf + 72);
	q->compatible = be64(buf + 80);
	q->autoclear = be64(buf + 88);
	q->refcount_order = be32(buf + 96);
	q->header_length = be32(buf + 100);
	if (q->header_length < V3_HEADER_LEN)
		return fail(err, errlen, "qcow2 header length %" PRIu32 " is below the minimum of %d",
			    q->header_length, V3_HEADER_LEN);
	if (q->header_length > q->cluster_size)
		return fail(err, errlen, "qcow2 header length %" PRIu32 " exceeds the cluster size",
			    q->header_length);
	if (q->header_length > len)
		return fail(err, errlen, "qcow2 header length %" PRIu32 " runs past the end of the file",
			    q->header_length);
	if (q->refcount_order > 6)
		return fail(err, errlen, "invalid refcount order %" PRIu32 " (must be 0..6)",
			    q->refcount_order);
	q->compression = QCOW2_DEFLATE;
	if (q->header_length > V3_HEADER_LEN) {
		uint8_t type = buf[V3_HEADER_LEN];

		if (type > QCOW2_ZSTD)
			return fail(err, errlen, "unknown compression type %u", type);
		q->compression = (enum qcow2_compression)type;
	}
	if ((q->compression != QCOW2_DEFLATE) != !!(q->incompatible & QCOW2_INCOMPAT_COMPRESSION))
		return fail(err, errlen,
			    "compression type %d contradicts the compression feature bit",
			    (int)q->compression);
	q->extended_l2 = q->incompatible & QCOW2_INCOMPAT_EXTL2;
	if (q->extended_l2 && q->cluster_bits < 14)
		return fail(err, errlen, "extended L2 entries need clusters of at least 16 KiB");
	return 0;
}

static int parse_l1_geometry(struct qcow2 *q, char *err, size_t errlen)
{
	uint64_t coverage = (uint64_t)q->l2_entries << q->cluster_bits;
	uint64_t needed = div_round_up(q->size, coverage);

	if (q->size > INT64_MAX)
		return fail(err, errlen, "virtual size %" PRIu64 " is too large", q->size);
	if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return fail(err, errlen, "L1 table of %" PRIu32 " entries is too large", q->l1_size);
	if (needed > q->l1_size)
		return fail(err, errlen,
			    "L1 table of %" PRIu32 " entries is too small for the virtual size (%" PRIu64
			    " needed)", q->l1_size, needed);
	q->l1_used = (uint32_t)needed;
	if (q->l1_size == 0)
		return 0;
	if (q->l1_offset == 0 || q->l1_offset & (q->cluster_size - 1))
		return fail(err, errlen, "L1 table offset 0x%" PRIx64 " is invalid", q->l1_offset);
	if (!in_file(q->l1_offset, (uint64_t)q->l1_size * 8, q->file_size))
		return fail(err, errlen, "L1 table at 0x%" PRIx64 " runs past the end of the file",
			    q->l1_offset);
	return 0;
}

static int parse_other_tables(struct qcow2 *q, const uint8_t *buf, char *err, size_t errlen)
{
	uint64_t rt_offset = be64(buf + 48);
	uint64_t rt_bytes = (uint64_t)be32(buf + 56) << q->cluster_bits;
	uint32_t nb_snapshots = be32(buf + 60);
	uint64_t snap_offset = be64(buf + 64);

	if (rt_bytes > QCOW2_MAX_REFTABLE_BYTES)
		return fail(err, errlen, "refcount table of %" PRIu64 " bytes is too large", rt_bytes);
	if (rt_offset == 0 || rt_offset & (q->cluster_size - 1) ||
	    !in_file(rt_offset, rt_bytes, q->file_size))
		return fail(err, errlen, "refcount table offset 0x%" PRIx64 " is invalid", rt_offset);
	if (nb_snapshots > MAX_SNAPSHOTS)
		return fail(err, errlen, "too many snapshots (%" PRIu32 ")", nb_snapshots);
	if (nb_snapshots &&
	    (snap_offset & (q->cluster_size - 1) || snap_offset >= q->file_size))
		return fail(err, errlen, "snapshot table offset 0x%" PRIx64 " is invalid",
			    snap_offset);
	if (q->crypt_method > 2)
		return fail(err, errlen, "unknown encryption method %" PRIu32, q->crypt_method);
	return 0;
}

static int parse_backing_name(struct qcow2 *q, const uint8_t *buf, size_t len, char *err,
			      size_t errlen)
{
	uint64_t off = be64(buf + 8);
	uint32_t n = be32(buf + 16);

	q->backing_file[0] = '\0';
	if (off == 0)
		return 0;
	if (n > 1023)
		return fail(err, errlen, "backing file name of %" PRIu32 " bytes is too long", n);
	if (!in_file(off, n, MIN(len, q->cluster_size)))
		return fail(err, errlen, "backing file name at 0x%" PRIx64 " is outside the header cluster",
			    off);
	copy_name(q->backing_file, sizeof(q->backing_file), buf + off, n);
	if (!q->backing_file[0])
		snprintf(q->backing_file, sizeof(q->backing_file), "?");
	return 0;
}

static void parse_feature_names(struct qcow2 *q, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i + FEATURE_NAME_ENTRY <= len; i += FEATURE_NAME_ENTRY) {
		const uint8_t *e = p + i;

		if (e[0] == 0 && e[1] < 64)
			copy_name(q->incompat_names[e[1]], sizeof(q->incompat_names[0]), e + 2, 46);
	}
}

/* Header extensions follow the header up to the end of the first cluster
 * (or the backing file name, which v2 images store in that space). */
static int parse_extensions(struct qcow2 *q, const uint8_t *buf, size_t len, char *err,
			    size_t errlen)
{
	uint64_t off = q->version == 2 ? V2_HEADER_LEN : q->header_length;
	uint64_t end = MIN((uint64_t)len, q->cluster_size);
	uint64_t backing = be64(buf + 8);

	if (backing && backing < end)
		end = MAX(backing, off);
	while (end - off >= 8) {
		uint32_t type = be32(buf + off);
		uint32_t n = be32(buf + off + 4);

		if (type == EXT_END)
			return 0;
		if (n > end - off - 8)
			return fail(err, errlen,
				    "header extension 0x%08" PRIx32 " at 0x%" PRIx64
				    " runs past the header cluster", type, off);
		if (type == EXT_FEATURE_NAMES)
			parse_feature_names(q, buf + off + 8, n);
		else if (type == EXT_DATA_FILE)
			copy_name(q->data_file, sizeof(q->data_file), buf + off + 8, n);
		/* backing format, bitmaps and the crypto header only matter
		 * for features refused by qcow2_check_readable */
		off += 8 + ALIGN_UP((uint64_t)n, 8);
		if (off > end)
			return 0; /* the padding of the last one may be cut short */
	}
	return 0;
}

int qcow2_parse_header(struct qcow2 *q, const uint8_t *buf, size_t len, uint64_t file_size,
		       char *err, size_t errlen)
{
	uint32_t magic;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->file_size = file_size;
	if (len > file_size)
		len = file_size;
	if (len < V2_HEADER_LEN)
		return fail(err, errlen, "not a qcow2 image: file is too small for a header");
	magic = be32(buf);
	if (magic != QCOW2_MAGIC)
		return fail(err, errlen,
			    "not a qcow2 image: magic is %02x %02x %02x %02x, expected 51 46 49 fb",
			    buf[0], buf[1], buf[2], buf[3]);
	q->version = be32(buf + 4);
	if (q->version != 2 && q->version != 3)
		return fail(err, errlen, "unsupported qcow2 version %" PRIu32, q->version);
	q->cluster_bits = be32(buf + 20);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return fail(err, errlen, "invalid cluster_bits %" PRIu32 " (must be %d..%d)",
			    q->cluster_bits, QCOW2_MIN_CLUSTER_BITS, QCOW2_MAX_CLUSTER_BITS);
	q->cluster_size = 1ULL << q->cluster_bits;
	q->size = be64(buf + 24);
	q->crypt_method = be32(buf + 32);
	q->l1_size = be32(buf + 36);
	q->l1_offset = be64(buf + 40);
	q->header_length = V2_HEADER_LEN;
	q->refcount_order = 4;
	if (q->version == 3 && parse_v3_fields(q, buf, len, err, errlen) < 0)
		return -1;
	q->l2_entries = (uint32_t)(q->cluster_size / (q->extended_l2 ? 16 : 8));
	if (parse_l1_geometry(q, err, errlen) < 0 || parse_other_tables(q, buf, err, errlen) < 0 ||
	    parse_backing_name(q, buf, len, err, errlen) < 0)
		return -1;
	return parse_extensions(q, buf, len, err, errlen);
}

const char *qcow2_incompat_name(const struct qcow2 *q, unsigned bit)
{
	static const char *const spec_names[] = {
		"dirty bit", "corrupt bit", "external data file", "compression type",
		"extended L2 entries",
	};

	if (bit < 64 && q->incompat_names[bit][0])
		return q->incompat_names[bit];
	if (bit < ARRAY_SIZE(spec_names))
		return spec_names[bit];
	return NULL;
}

int qcow2_check_readable(const struct qcow2 *q, char *err, size_t errlen)
{
	static const uint64_t known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT |
				      QCOW2_INCOMPAT_DATA_FILE | QCOW2_INCOMPAT_COMPRESSION |
				      QCOW2_INCOMPAT_EXTL2;
	uint64_t unknown = q->incompatible & ~known;

	if (unknown) {
		unsigned bit = (unsigned)__builtin_ctzll(unknown);
		const char *name = qcow2_incompat_name(q, bit);

		return fail(err, errlen, "unsupported qcow2 incompatible feature bit %u%s%s%s", bit,
			    name ? " (" : "", name ? name : "", name ? ")" : "");
	}
	if (q->backing_file[0])
		return fail(err, errlen, "backing files are not supported (backing file '%s')",
			    q->backing_file);
	if (q->crypt_method)
		return fail(err, errlen, "encrypted images are not supported (%s encryption)",
			    q->crypt_method == 1 ? "AES" : "LUKS");
	if (q->incompatible & QCOW2_INCOMPAT_DATA_FILE)
		return fail(err, errlen, "external data files are not supported%s%s%s",
			    q->data_file[0] ? " (data file '" : "", q->data_file,
			    q->data_file[0] ? "')" : "");
	if (q->incompatible & QCOW2_INCOMPAT_CORRUPT)
		return fail(err, errlen, "the image is marked corrupt; repair it with 'qemu-img check -r all'");
	return 0;
}

static int load_l1(struct qcow2 *q, char *err, size_t errlen)
{
	int ret;

	q->l1 = xcalloc(q->l1_used ? q->l1_used : 1, sizeof(uint64_t));
	ret = img_pread_padded(q->fd, q->l1, (size_t)q->l1_used * 8, q->l1_offset);
	if (ret < 0)
		return fail(err, errlen, "cannot read the L1 table: %s", strerror(-ret));
	for (uint32_t i = 0; i < q->l1_used; i++)
		q->l1[i] = be64((const uint8_t *)&q->l1[i]);
	return 0;
}

int qcow2_open(struct qcow2 *q, int fd, char *err, size_t errlen)
{
	off_t end = lseek(fd, 0, SEEK_END);
	size_t len;
	uint8_t *head;
	int ret;

	if (end < 0)
		return fail(err, errlen, "cannot get the file size: %s", strerror(errno));
	len = (size_t)MIN((uint64_t)end, 1ULL << QCOW2_MAX_CLUSTER_BITS);
	head = xmalloc(len ? len : 1);
	ret = img_pread_padded(fd, head, len, 0);
	if (ret < 0) {
		free(head);
		return fail(err, errlen, "cannot read the header: %s", strerror(-ret));
	}
	ret = qcow2_parse_header(q, head, len, (uint64_t)end, err, errlen);
	free(head);
	if (ret < 0)
		return -1;
	q->fd = fd;
	q->l2_buf = xmalloc(q->cluster_size);
	q->dbuf = xmalloc(q->cluster_size);
	/* a descriptor counts up to 2^(cluster_bits - 8) sectors */
	q->cbuf_size = SECTOR << (q->cluster_bits - 8);
	q->cbuf = xmalloc(q->cbuf_size);
	q->z = xcalloc(1, sizeof(*q->z));
	if (load_l1(q, err, errlen) < 0) {
		qcow2_close(q);
		return -1;
	}
	return 0;
}

void qcow2_close(struct qcow2 *q)
{
	if (q->z) {
		if (q->z->zs_ready)
			inflateEnd(&q->z->zs);
		ZSTD_freeDCtx(q->z->zd);
		free(q->z);
	}
	free(q->l1);
	free(q->l2_buf);
	free(q->dbuf);
	free(q->cbuf);
	q->z = NULL;
	q->l1 = NULL;
	q->l2_buf = q->dbuf = q->cbuf = NULL;
}

struct walk_pos {
	uint32_t l1_index;
	uint32_t l2_index;
	uint64_t guest; /* guest offset of the cluster */
};

static int emit(struct qcow2 *q, qcow2_extent_fn fn, void *ctx, struct qcow2_extent *ext)
{
	uint64_t left = q->size - ext->guest_offset;

	if (ext->guest_offset >= q->size)
		return 0;
	if (ext->length > left)
		ext->length = left;
	return fn(ctx, ext);
}

static int walk_compressed(struct qcow2 *q, uint64_t entry, const struct walk_pos *pos,
			   qcow2_extent_fn fn, void *ctx, char *err, size_t errlen)
{
	unsigned size_bits = q->cluster_bits - 8;
	unsigned offset_bits = 62 - size_bits;
	uint64_t off = entry & ((1ULL << offset_bits) - 1);
	uint64_t sectors = ((entry >> offset_bits) & ((1ULL << size_bits) - 1)) + 1;
	struct qcow2_extent ext = {
		.kind = QCOW2_EXT_COMPRESSED,
		.guest_offset = pos->guest,
		.length = q->cluster_size,
		.host_offset = off,
		.compressed_size = sectors * SECTOR - (off & (SECTOR - 1)),
	};

	if (off >= q->file_size)
		return fail(err, errlen,
			    "compressed cluster at 0x%" PRIx64 " (L1 %" PRIu32 ", L2 %" PRIu32
			    ") lies past the end of the file", off, pos->l1_index, pos->l2_index);
	return emit(q, fn, ctx, &ext);
}

static int check_data_offset(struct qcow2 *q, uint64_t off, const struct walk_pos *pos, char *err,
			     size_t errlen)
{
	if (off & (q->cluster_size - 1))
		return fail(err, errlen,
			    "data cluster offset 0x%" PRIx64 " (L1 %" PRIu32 ", L2 %" PRIu32
			    ") is not cluster aligned", off, pos->l1_index, pos->l2_index);
	if (off >= q->file_size)
		return fail(err, errlen,
			    "data cluster at 0x%" PRIx64 " (L1 %" PRIu32 ", L2 %" PRIu32
			    ") lies past the end of the file", off, pos->l1_index, pos->l2_index);
	return 0;
}

static int walk_standard(struct qcow2 *q, uint64_t entry, const struct walk_pos *pos,
			 qcow2_extent_fn fn, void *ctx, char *err, size_t errlen)
{
	uint64_t off = entry & OFFSET_MASK;
	struct qcow2_extent ext = {
		.kind = QCOW2_EXT_DATA,
		.guest_offset = pos->guest,
		.length = q->cluster_size,
		.host_offset = off,
	};

	/* QEMU honours the zero flag in v2 images too */
	if (entry & L2_ZERO) {
		ext.kind = QCOW2_EXT_ZERO;
		return emit(q, fn, ctx, &ext);
	}
	if (off == 0)
		return 0; /* unallocated */
	if (check_data_offset(q, off, pos, err, errlen) < 0)
		return -1;
	return emit(q, fn, ctx, &ext);
}

/* An extended entry splits the cluster into 32 subclusters, each allocated
 * (bit i of the bitmap), zero (bit 32 + i) or unallocated. */
static int walk_subclusters(struct qcow2 *q, uint64_t entry, uint64_t bitmap,
			    const struct walk_pos *pos, qcow2_extent_fn fn, void *ctx, char *err,
			    size_t errlen)
{
	uint64_t off = entry & OFFSET_MASK;
	uint32_t alloc = (uint32_t)bitmap;
	uint32_t zero = (uint32_t)(bitmap >> 32);
	uint64_t sc_size = q->cluster_size / 32;

	if (alloc & zero)
		return fail(err, errlen,
			    "subcluster bitmap 0x%016" PRIx64 " (L1 %" PRIu32 ", L2 %" PRIu32
			    ") marks subclusters both allocated and zero", bitmap, pos->l1_index,
			    pos->l2_index);
	if (alloc && off == 0)
		return fail(err, errlen,
			    "subclusters allocated without a host cluster (L1 %" PRIu32 ", L2 %" PRIu32
			    ")", pos->l1_index, pos->l2_index);
	if (alloc && check_data_offset(q, off, pos, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < 32; i++) {
		struct qcow2_extent ext = {
			.kind = alloc >> i & 1 ? QCOW2_EXT_DATA : QCOW2_EXT_ZERO,
			.guest_offset = pos->guest + i * sc_size,
			.length = sc_size,
			.host_offset = off + i * sc_size,
		};
		int ret;

		if (!((alloc | zero) >> i & 1))
			continue;
		ret = emit(q, fn, ctx, &ext);
		if (ret)
			return ret;
	}
	return 0;
}

static int walk_l2(struct qcow2 *q, uint32_t l1_index, qcow2_extent_fn fn, void *ctx, char *err,
		   size_t errlen)
{
	uint64_t l2_off = q->l1[l1_index] & OFFSET_MASK;
	struct walk_pos pos = { .l1_index = l1_index };
	unsigned entry_size = q->extended_l2 ? 16 : 8;
	int ret;

	if (l2_off & (q->cluster_size - 1))
		return fail(err, errlen, "L2 table offset 0x%" PRIx64 " (L1 %" PRIu32
			    ") is not cluster aligned", l2_off, l1_index);
	if (!in_file(l2_off, q->cluster_size, q->file_size))
		return fail(err, errlen, "L2 table at 0x%" PRIx64 " (L1 %" PRIu32
			    ") runs past the end of the file", l2_off, l1_index);
	ret = img_pread_padded(q->fd, q->l2_buf, q->cluster_size, l2_off);
	if (ret < 0)
		return fail(err, errlen, "cannot read an L2 table: %s", strerror(-ret));
	for (uint32_t i = 0; i < q->l2_entries; i++) {
		const uint8_t *e = q->l2_buf + (size_t)i * entry_size;
		uint64_t entry = be64(e);

		pos.l2_index = i;
		pos.guest = ((uint64_t)l1_index * q->l2_entries + i) << q->cluster_bits;
		if (pos.guest >= q->size)
			break;
		if (entry & L2_COMPRESSED)
			ret = walk_compressed(q, entry, &pos, fn, ctx, err, errlen);
		else if (q->extended_l2)
			ret = walk_subclusters(q, entry, be64(e + 8), &pos, fn, ctx, err, errlen);
		else
			ret = walk_standard(q, entry, &pos, fn, ctx, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int qcow2_walk(struct qcow2 *q, qcow2_extent_fn fn, void *ctx, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < q->l1_used; i++) {
		int ret;

		if (!(q->l1[i] & OFFSET_MASK))
			continue;
		ret = walk_l2(q, i, fn, ctx, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int inflate_cluster(struct qcow2 *q, size_t csize, char *err, size_t errlen)
{
	z_stream *zs = &q->z->zs;
	int ret;

	if (!q->z->zs_ready) {
		if (inflateInit2(zs, -15) != Z_OK)
			return fail(err, errlen, "cannot initialise zlib");
		q->z->zs_ready = true;
	} else if (inflateReset(zs) != Z_OK) {
		return fail(err, errlen, "cannot reset zlib");
	}
	zs->next_in = q->cbuf;
	zs->avail_in = (uInt)csize;
	zs->next_out = q->dbuf;
	zs->avail_out = (uInt)q->cluster_size;
	ret = inflate(zs, Z_FINISH);
	/* the compressed size is only known to the sector, so the stream may
	 * end early in the input; the output must be exactly one cluster */
	if ((ret != Z_STREAM_END && ret != Z_BUF_ERROR) || zs->avail_out != 0)
		return -1;
	return 0;
}

static int unzstd_cluster(struct qcow2 *q, size_t csize, char *err, size_t errlen)
{
	ZSTD_inBuffer in = { q->cbuf, csize, 0 };
	ZSTD_outBuffer out = { q->dbuf, q->cluster_size, 0 };
	size_t ret = 1;

	if (!q->z->zd && !(q->z->zd = ZSTD_createDCtx()))
		return fail(err, errlen, "cannot create a zstd context");
	ZSTD_DCtx_reset(q->z->zd, ZSTD_reset_session_only);
	while (out.pos < out.size) {
		size_t in_pos = in.pos, out_pos = out.pos;

		ret = ZSTD_decompressStream(q->z->zd, &out, &in);
		if (ZSTD_isError(ret) || (in.pos == in_pos && out.pos == out_pos))
			return -1;
	}
	return ret == 0 ? 0 : -1; /* the frame must end with the cluster */
}

static int read_compressed(struct qcow2 *q, const struct qcow2_extent *ext, uint8_t *buf, char *err,
			   size_t errlen)
{
	size_t csize = (size_t)MIN(ext->compressed_size, q->file_size - ext->host_offset);
	int ret;

	if (csize > q->cbuf_size)
		return fail(err, errlen, "compressed cluster size %zu is too large", csize);
	ret = img_pread_padded(q->fd, q->cbuf, csize, ext->host_offset);
	if (ret < 0)
		return fail(err, errlen, "cannot read a compressed cluster: %s", strerror(-ret));
	err[0] = '\0';
	ret = q->compression == QCOW2_ZSTD ? unzstd_cluster(q, csize, err, errlen)
					   : inflate_cluster(q, csize, err, errlen);
	if (ret < 0 && !err[0])
		fail(err, errlen, "%s cluster at 0x%" PRIx64 " (guest 0x%" PRIx64
		     ") does not decompress to one cluster",
		     q->compression == QCOW2_ZSTD ? "zstd" : "deflate", ext->host_offset,
		     ext->guest_offset);
	if (ret < 0)
		return -1;
	memcpy(buf, q->dbuf + (ext->guest_offset & (q->cluster_size - 1)), ext->length);
	return 0;
}

int qcow2_read_extent(struct qcow2 *q, const struct qcow2_extent *ext, uint8_t *buf, char *err,
		      size_t errlen)
{
	int ret;

	switch (ext->kind) {
	case QCOW2_EXT_ZERO:
		memset(buf, 0, ext->length);
		return 0;
	case QCOW2_EXT_COMPRESSED:
		return read_compressed(q, ext, buf, err, errlen);
	case QCOW2_EXT_DATA:
		break;
	}
	ret = img_pread_padded(q->fd, buf, ext->length, ext->host_offset);
	if (ret < 0)
		return fail(err, errlen, "cannot read a data cluster: %s", strerror(-ret));
	return 0;
}
