#include "loader/load_common.h"

#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "util/log.h"
#include "util/util.h"

#define PAGE_SIZE 4096ULL

int loader_read(const char *path, const char *what, uint8_t **data, size_t *len)
{
	int err = read_file(path, data, len);

	if (err < 0) {
		log_error("%s %s: cannot read: %s", what, path, strerror(-err));
		return -1;
	}
	return 0;
}

int loader_put_cmdline(const struct guest_mem *gm, const char *kernel_path,
		       const char *cmdline, uint64_t max_len)
{
	const char *line = cmdline ? cmdline : "";
	uint64_t len = strlen(line);
	uint64_t limit = MIN(max_len, X86_CMDLINE_MAX - 1);

	if (len > limit) {
		log_error("kernel %s: command line is %llu bytes, at most %llu allowed",
			  kernel_path, (unsigned long long)len, (unsigned long long)limit);
		return -1;
	}
	if (!gm_write(gm, X86_CMDLINE, line, len + 1)) {
		log_error("kernel %s: no guest RAM for the command line at %#llx",
			  kernel_path, (unsigned long long)X86_CMDLINE);
		return -1;
	}
	return 0;
}

/* Highest page-aligned start for `size` bytes inside region `r` clipped to
 * [low, high); false if it does not fit. */
static bool highest_fit(const struct gm_region *r, uint64_t low, uint64_t high,
			uint64_t size, uint64_t *gpa)
{
	uint64_t lo = MAX(r->gpa, ALIGN_UP(low, PAGE_SIZE));
	uint64_t hi = MIN(r->gpa + r->size, high);

	if (hi < lo || hi - lo < size)
		return false;
	*gpa = ALIGN_DOWN(hi - size, PAGE_SIZE);
	return *gpa >= lo;
}

int loader_put_initramfs(const struct guest_mem *gm, const char *path,
			 uint64_t low, uint64_t high, uint64_t *gpa, uint64_t *size)
{
	uint8_t *data;
	size_t len;
	bool found = false;
	uint64_t best = 0;

	if (loader_read(path, "initramfs", &data, &len) < 0)
		return -1;
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		uint64_t at;
		if (highest_fit(&gm->region[i], low, high, len, &at) && (!found || at > best)) {
			best = at;
			found = true;
		}
	}
	if (!found || !gm_write(gm, best, data, len)) {
		log_error("initramfs %s: too large (%zu bytes) for the guest RAM between "
			  "%#llx and %#llx", path, len, (unsigned long long)low,
			  (unsigned long long)high);
		free(data);
		return -1;
	}
	free(data);
	log_info("initramfs %s loaded at %#llx, %zu bytes", path,
		 (unsigned long long)best, len);
	*gpa = best;
	*size = len;
	return 0;
}

void loader_memory_map(const struct guest_mem *gm, const struct e820_map *given,
		       struct e820_map *out)
{
	if (given) {
		*out = *given;
		out->nr = MIN(out->nr, (unsigned)E820_MAX);
		return;
	}
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < gm->nr_regions && out->nr < E820_MAX; i++)
		out->entry[out->nr++] = (struct e820_entry){
			.addr = gm->region[i].gpa, .size = gm->region[i].size, .type = E820_RAM,
		};
}
