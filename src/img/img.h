/* The operations behind `alioth img`: converting qcow2 to raw (sparse
 * output) and raw to qcow2, and describing an image. Each returns 0, or
 * -1 with a one-line reason in err. */
#ifndef ALIOTH_IMG_IMG_H
#define ALIOTH_IMG_IMG_H

#include <stddef.h>
#include <stdio.h>

enum img_format { IMG_QCOW2, IMG_RAW };

const char *img_format_name(enum img_format fmt);

int img_convert(const char *in, enum img_format from, const char *out, enum img_format to,
		char *err, size_t errlen);

/* Prints format, virtual size, cluster size, version and allocated bytes. */
int img_info(const char *path, FILE *out, char *err, size_t errlen);

#endif
