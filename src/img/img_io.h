/* File I/O shared by the image converters: whole reads that treat the end
 * of the file as zeros, whole writes, and the zero test behind sparse
 * output. Errors are returned as -errno. */
#ifndef ALIOTH_IMG_IMG_IO_H
#define ALIOTH_IMG_IMG_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads len bytes at off; bytes past the end of the file read as zeros. */
int img_pread_padded(int fd, void *buf, size_t len, uint64_t off);
int img_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
bool img_is_zero(const void *buf, size_t len);

/* Writes buf at off, skipping every aligned block of `block` bytes that is
 * all zeros so that the file keeps holes there. */
int img_pwrite_sparse(int fd, const uint8_t *buf, size_t len, uint64_t off, size_t block);

#endif
