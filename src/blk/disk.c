#include "blk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* OFD locks belong to the open file description, so a second open of the
 * same image - by another VMM or by a second --blk of this one - conflicts,
 * and the lock goes away with the descriptor. */
static int lock_image(int fd, bool readonly)
{
	struct flock fl = {
		.l_type = readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0,
	};
	return fcntl(fd, F_OFD_SETLK, &fl) ? -errno : 0;
}

static int measure(struct blk_disk *d, const struct stat *st)
{
	d->logical_block = 512;
	if (S_ISREG(st->st_mode)) {
		d->size = (uint64_t)st->st_size;
		return 0;
	}
	if (!S_ISBLK(st->st_mode))
		return -EINVAL;
	if (ioctl(d->fd, BLKGETSIZE64, &d->size))
		return -errno;
	int ssz = 0;
	if (!ioctl(d->fd, BLKSSZGET, &ssz) && ssz >= 512 && ssz <= 65536 && !(ssz & (ssz - 1)))
		d->logical_block = (uint32_t)ssz;
	return 0;
}

/* Punching past the end of the data changes nothing where holes are
 * supported, and fails with EOPNOTSUPP where they are not. */
static bool probe_punch(const struct blk_disk *d)
{
	if (d->readonly)
		return false;
	off_t past_end = (off_t)((d->size + 4095) & ~4095ULL);
	return fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, past_end, 4096) == 0;
}

static void make_serial(struct blk_disk *d, const struct stat *st)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%" PRIx64 "-%" PRIx64, (uint64_t)st->st_dev,
		 (uint64_t)st->st_ino);
	memset(d->serial, 0, sizeof(d->serial));
	memcpy(d->serial, buf, strnlen(buf, sizeof(d->serial)));
}

int blk_disk_open(struct blk_disk *d, const char *path, bool readonly, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	memset(d, 0, sizeof(*d));
	d->readonly = readonly;
	d->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open disk image '%s'%s: %s", path,
			 readonly ? "" : " for writing", strerror(-ret));
		return ret;
	}
	ret = lock_image(d->fd, readonly);
	if (ret) {
		if (ret == -EAGAIN || ret == -EACCES)
			snprintf(err, errlen, "disk image '%s' is in use by another VM or another "
				 "--blk (%s lock refused)", path, readonly ? "shared" : "exclusive");
		else
			snprintf(err, errlen, "cannot lock disk image '%s': %s", path,
				 strerror(-ret));
		goto fail;
	}
	if (fstat(d->fd, &st)) {
		ret = -errno;
	} else {
		ret = measure(d, &st);
	}
	if (ret) {
		snprintf(err, errlen, "disk image '%s' is not a regular file or block device%s%s",
			 path, ret == -EINVAL ? "" : ": ", ret == -EINVAL ? "" : strerror(-ret));
		goto fail;
	}
	d->can_punch = probe_punch(d);
	make_serial(d, &st);
	return 0;
fail:
	close(d->fd);
	d->fd = -1;
	return ret;
}

void blk_disk_close(struct blk_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
