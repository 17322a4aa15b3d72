#include "mem/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

static int map_backend(struct guest_mem *gm, const struct mem_config *cfg)
{
	int flags = MAP_NORESERVE;
	int fd = -1;

	if (cfg->backend == MEM_BACKEND_MEMFD) {
		/* memfd is what vhost-user peers need: always MAP_SHARED. */
		fd = memfd_create("alioth-guest-ram", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)cfg->size) < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		flags |= MAP_SHARED;
	} else {
		flags |= MAP_ANONYMOUS | (cfg->shared ? MAP_SHARED : MAP_PRIVATE);
	}
	void *p = mmap(NULL, cfg->size, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	gm->base = p;
	gm->size = cfg->size;
	gm->memfd = fd;
	return 0;
}

int gm_alloc(struct guest_mem *gm, const struct mem_config *cfg)
{
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (cfg->size == 0)
		return -EINVAL;
	int err = map_backend(gm, cfg);
	if (err)
		return err;
	if (cfg->thp && madvise(gm->base, gm->size, MADV_HUGEPAGE) < 0)
		log_warn("memory: transparent huge pages unavailable: %s", strerror(errno));
	/* Guest RAM in a core dump is rarely wanted and can be huge. */
	madvise(gm->base, gm->size, MADV_DONTDUMP);
	return 0;
}

int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t offset, uint64_t size)
{
	if (gm->nr_regions >= GM_MAX_REGIONS)
		return -ENOSPC;
	if (size == 0 || offset > gm->size || size > gm->size - offset)
		return -EINVAL;
	if (gpa + size < gpa)
		return -EINVAL;
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->region[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EEXIST;
	}
	gm->region[gm->nr_regions++] = (struct gm_region){
		.gpa = gpa, .size = size, .host = gm->base + offset, .offset = offset,
	};
	return 0;
}

void gm_init_buffer(struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	gm->region[0] = (struct gm_region){ .gpa = gpa, .size = size, .host = buf };
	gm->nr_regions = 1;
}

void gm_free(struct guest_mem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->size);
	if (gm->memfd >= 0)
		close(gm->memfd);
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->region[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		/* Written so that no sum can overflow: off <= size, len <= size - off. */
		if (off > r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

bool gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src = gm_ptr(gm, gpa, len);
	if (!src)
		return false;
	memcpy(dst, src, len);
	return true;
}

bool gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gm_ptr(gm, gpa, len);
	if (!dst)
		return false;
	memcpy(dst, src, len);
	return true;
}

uint64_t gm_ram_size(const struct guest_mem *gm)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < gm->nr_regions; i++)
		total += gm->region[i].size;
	return total;
}
