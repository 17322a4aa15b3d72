/* Reading QEMU's qcow2 images (versions 2 and 3): the header and its
 * extensions, then a walk over the L1/L2 tables that reports each guest
 * range as data, compressed data (deflate or zstd) or zeros, and reads it.
 * Every offset and size taken from the file is checked before use. */
#ifndef ALIOTH_IMG_QCOW2_H
#define ALIOTH_IMG_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCOW2_MAGIC 0x514649fbU /* "QFI\xfb" */

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY       (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT     (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2       (1ULL << 4)

enum qcow2_compression { QCOW2_DEFLATE = 0, QCOW2_ZSTD = 1 };

/* Sanity limits, the same as QEMU's. */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_L1_BYTES     (32ULL << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8ULL << 20)

struct qcow2_zstate;

struct qcow2 {
	int fd;
	uint64_t file_size;

	uint32_t version;
	uint32_t header_length;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint64_t size; /* virtual size in bytes */
	uint32_t crypt_method;
	uint64_t incompatible;
	uint64_t compatible;
	uint64_t autoclear;
	uint32_t refcount_order;
	enum qcow2_compression compression;
	bool extended_l2;
	char backing_file[1024]; /* "" if none */
	char data_file[1024];    /* from the external data file extension */
	char incompat_names[64][47]; /* from the feature name table, "" if absent */

	uint64_t l1_offset;
	uint32_t l1_size;     /* entries in the file */
	uint32_t l1_used;     /* entries covering the virtual size */
	uint64_t *l1;         /* host byte order */
	uint32_t l2_entries;  /* entries per L2 table */

	uint8_t *l2_buf;      /* one L2 table */
	uint8_t *cbuf;        /* compressed bytes of one cluster */
	uint8_t *dbuf;        /* one decompressed cluster */
	uint64_t cbuf_size;
	struct qcow2_zstate *z;
};

enum qcow2_extent_kind {
	QCOW2_EXT_DATA,       /* raw bytes at host_offset */
	QCOW2_EXT_COMPRESSED, /* a whole cluster compressed at host_offset */
	QCOW2_EXT_ZERO,       /* reads as zeros, marked so in the image */
};

/* A guest range [guest_offset, guest_offset + length) inside one cluster.
 * Unallocated ranges are not reported: without a backing file they read as
 * zeros. */
struct qcow2_extent {
	enum qcow2_extent_kind kind;
	uint64_t guest_offset;
	uint64_t length;
	uint64_t host_offset;
	uint64_t compressed_size; /* QCOW2_EXT_COMPRESSED */
};

typedef int (*qcow2_extent_fn)(void *ctx, const struct qcow2_extent *ext);

/* Decodes and checks the header and its extensions from the first bytes of
 * the file (buf holds min(file_size, first cluster)). Fills the header
 * fields of q only; nothing is allocated. Returns 0, or -1 with a one-line
 * reason in err. */
int qcow2_parse_header(struct qcow2 *q, const uint8_t *buf, size_t len, uint64_t file_size,
		       char *err, size_t errlen);

/* Reads and checks the header and the L1 table of the image open on fd
 * (which stays the caller's). On failure everything is released. */
int qcow2_open(struct qcow2 *q, int fd, char *err, size_t errlen);
void qcow2_close(struct qcow2 *q);

/* Fails, naming the feature, if the image needs something this reader does
 * not do: a backing file, encryption, an external data file, unknown
 * incompatible features, or the corrupt mark. */
int qcow2_check_readable(const struct qcow2 *q, char *err, size_t errlen);

/* Calls fn for every data, compressed or zero range, in guest order. Stops
 * at the first non-zero return of fn (and returns it) or on a corrupt table
 * (-1, reason in err). */
int qcow2_walk(struct qcow2 *q, qcow2_extent_fn fn, void *ctx, char *err, size_t errlen);

/* Reads a data or compressed extent's guest bytes into buf (ext->length
 * bytes). Bytes past the end of the file read as zeros, as in QEMU. */
int qcow2_read_extent(struct qcow2 *q, const struct qcow2_extent *ext, uint8_t *buf, char *err,
		      size_t errlen);

/* Name of an incompatible feature bit, from the image's table or the spec. */
const char *qcow2_incompat_name(const struct qcow2 *q, unsigned bit);

#endif
