/* virtio-blk (device type 2) over a raw disk image: read, write, flush,
 * get-id, discard and write-zeroes, with the I/O done by src/blk's io_uring
 * or thread-pool engine so the worker thread never blocks on the disk. */
#ifndef ALIOTH_VIRTIO_BLK_H
#define ALIOTH_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blk/aio.h"
#include "virtio/virtio_dev.h"

/* Queues the transport exposes; the driver uses num_queues of them. */
#define VIRTIO_BLK_MAX_QUEUES 8
#define VIRTIO_BLK_QUEUE_SIZE 256

/* virtio 1.2 §5.2: feature bits, request types, status values. */
#define VIRTIO_BLK_F_SIZE_MAX      1
#define VIRTIO_BLK_F_SEG_MAX       2
#define VIRTIO_BLK_F_RO            5
#define VIRTIO_BLK_F_BLK_SIZE      6
#define VIRTIO_BLK_F_FLUSH         9
#define VIRTIO_BLK_F_TOPOLOGY      10
#define VIRTIO_BLK_F_MQ            12
#define VIRTIO_BLK_F_DISCARD       13
#define VIRTIO_BLK_F_WRITE_ZEROES  14

#define VIRTIO_BLK_T_IN            0
#define VIRTIO_BLK_T_OUT           1
#define VIRTIO_BLK_T_FLUSH         4
#define VIRTIO_BLK_T_GET_ID        8
#define VIRTIO_BLK_T_DISCARD       11
#define VIRTIO_BLK_T_WRITE_ZEROES  13

#define VIRTIO_BLK_S_OK            0
#define VIRTIO_BLK_S_IOERR         1
#define VIRTIO_BLK_S_UNSUPP        2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

/* Offsets in struct virtio_blk_config (little-endian). */
#define VIRTIO_BLK_CFG_CAPACITY          0
#define VIRTIO_BLK_CFG_SIZE_MAX          8
#define VIRTIO_BLK_CFG_SEG_MAX           12
#define VIRTIO_BLK_CFG_BLK_SIZE          20
#define VIRTIO_BLK_CFG_PHYS_BLOCK_EXP    24
#define VIRTIO_BLK_CFG_MIN_IO_SIZE       26
#define VIRTIO_BLK_CFG_OPT_IO_SIZE       28
#define VIRTIO_BLK_CFG_NUM_QUEUES        34
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG   40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN     44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS    48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG        52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP      56
#define VIRTIO_BLK_CFG_SIZE              60

struct virtio_blk_params {
	const char *path;
	bool readonly;
	enum blk_api api;
	uint16_t num_queues; /* 1..VIRTIO_BLK_MAX_QUEUES; 0 means 1 */
};

struct virtio_blk;

extern const struct virtio_dev_ops virtio_blk_ops;

/* Opens and locks the image and starts its I/O engine. On failure returns
 * -errno with one line in err (no "alioth:" prefix, no newline). */
int virtio_blk_create(const struct virtio_blk_params *p, struct virtio_blk **out, char *err,
		      size_t errlen);
/* The same as virtio_blk_ops.destroy. */
void virtio_blk_destroy(struct virtio_blk *b);
/* "io_uring" or "thread pool". */
const char *virtio_blk_engine(const struct virtio_blk *b);

#endif
