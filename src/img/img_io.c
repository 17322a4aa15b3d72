#include "img/img_io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int img_pread_padded(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	memset(p, 0, len);
	return 0;
}

int img_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

bool img_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return len == 0 || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

int img_pwrite_sparse(int fd, const uint8_t *buf, size_t len, uint64_t off, size_t block)
{
	size_t start = 0;

	while (start < len) {
		size_t n = block - (size_t)((off + start) % block);
		size_t end;
		int ret;

		if (n > len - start)
			n = len - start;
		if (img_is_zero(buf + start, n)) {
			start += n;
			continue;
		}
		/* extend the run over the following non-zero blocks */
		end = start + n;
		while (end < len) {
			size_t m = block < len - end ? block : len - end;

			if (img_is_zero(buf + end, m))
				break;
			end += m;
		}
		ret = img_pwrite_all(fd, buf + start, end - start, off + start);
		if (ret < 0)
			return ret;
		start = end;
	}
	return 0;
}
