/* Writing a qcow2 v3 image (64 KiB clusters, 16-bit refcounts, no
 * compression) from raw bytes. Clusters that read as zeros stay
 * unallocated, so a sparse input gives a small image. */
#ifndef ALIOTH_IMG_QCOW2_WRITE_H
#define ALIOTH_IMG_QCOW2_WRITE_H

#include <stddef.h>
#include <stdint.h>

#define QCOW2_WRITE_CLUSTER_BITS 16

/* Copies the first `size` bytes of in_fd into a fresh image on out_fd
 * (which must be empty); the virtual size is size rounded up to 512 bytes,
 * as QEMU sizes raw images. Returns 0, or -1 with a reason in err. */
int qcow2_write_from_raw(int in_fd, uint64_t size, int out_fd, char *err, size_t errlen);

#endif
