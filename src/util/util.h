/* Small helpers shared by every module. */
#ifndef ALIOTH_UTIL_UTIL_H
#define ALIOTH_UTIL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* malloc/calloc/strdup that abort with a message on exhaustion. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
char *xstrdup(const char *s);

/* Reads a whole file into a fresh buffer. Returns 0 or -errno. */
int read_file(const char *path, uint8_t **data, size_t *len);

#endif
