/* A disk image opened for a block device: the file (regular file or block
 * device) with an OFD lock held for the VM's life - exclusive for
 * read-write, shared for read-only - its size, logical block size and a
 * serial number derived from its device and inode numbers. */
#ifndef ALIOTH_BLK_DISK_H
#define ALIOTH_BLK_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLK_SERIAL_LEN 20 /* VIRTIO_BLK_ID_BYTES: not NUL-terminated when full */

struct blk_disk {
	int fd;
	bool readonly;
	uint64_t size;          /* bytes */
	uint32_t logical_block; /* 512, or a block device's logical sector size */
	bool can_punch;         /* fallocate(PUNCH_HOLE) works here */
	char serial[BLK_SERIAL_LEN];
};

/* Opens and locks path. On failure returns -errno and writes one line
 * (without "alioth:" and newline) into err, naming the file and the cause. */
int blk_disk_open(struct blk_disk *d, const char *path, bool readonly, char *err, size_t errlen);
void blk_disk_close(struct blk_disk *d);

#endif
