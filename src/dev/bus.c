#include "dev/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void io_bus_init(struct io_bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

void io_bus_destroy(struct io_bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
}

/* Index of the first range whose end is above addr. */
static size_t lower_bound(const struct io_bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct io_range *r = &bus->ranges[mid];
		if (r->base + r->len - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len,
	       const struct io_ops *ops, void *dev, const char *name)
{
	if (len == 0 || base + (len - 1) < base)
		return -EINVAL;
	int err = 0;
	pthread_rwlock_wrlock(&bus->lock);
	size_t i = lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base <= base + (len - 1)) {
		err = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 16;
		struct io_range *r = realloc(bus->ranges, cap * sizeof(*r));
		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct io_range){ base, len, ops, dev, name };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

int io_bus_remove(struct io_bus *bus, uint64_t base)
{
	int err = -ENOENT;
	pthread_rwlock_wrlock(&bus->lock);
	size_t i = lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base == base) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
		err = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

/* Looks up addr under the read lock; the caller unlocks. */
static const struct io_range *find(struct io_bus *bus, uint64_t addr)
{
	size_t i = lower_bound(bus, addr);
	if (i < bus->nr && bus->ranges[i].base <= addr)
		return &bus->ranges[i];
	return NULL;
}

bool io_bus_read(struct io_bus *bus, uint64_t addr, unsigned size, uint64_t *val)
{
	pthread_rwlock_rdlock(&bus->lock);
	const struct io_range *r = find(bus, addr);
	if (r && r->ops->read)
		*val = r->ops->read(r->dev, addr - r->base, size);
	else
		*val = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	pthread_rwlock_unlock(&bus->lock);
	return r != NULL;
}

bool io_bus_write(struct io_bus *bus, uint64_t addr, unsigned size, uint64_t val)
{
	pthread_rwlock_rdlock(&bus->lock);
	const struct io_range *r = find(bus, addr);
	if (r && r->ops->write)
		r->ops->write(r->dev, addr - r->base, size, val);
	pthread_rwlock_unlock(&bus->lock);
	return r != NULL;
}
