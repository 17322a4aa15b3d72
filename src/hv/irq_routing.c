#include "hv/irq_routing.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "util/log.h"
#include "util/util.h"

/* GSIs 0-15 reach both the IOAPIC and a PIC, 16-23 only the IOAPIC: the
 * table KVM installs with KVM_CREATE_IRQCHIP. */
#define NR_DEFAULT_ROUTES (IOAPIC_NR_PINS + 16)

struct msi_gsi {
	bool used, routed, attached;
	uint64_t addr;
	uint32_t data;
	int efd;
};

/* A split irqchip's IOAPIC pin as last described by the IOAPIC. */
struct pin_route {
	bool routed;
	uint64_t addr;
	uint32_t data;
};

struct irq_routing {
	pthread_mutex_t lock;
	int vm_fd;
	bool split;
	struct pin_route pin[IOAPIC_NR_PINS];
	unsigned nr_msi;        /* GSIs 24 .. 24 + nr_msi - 1 */
	struct msi_gsi *msi;
	struct kvm_irq_routing *table; /* room for every route */
};

struct msi_vectors {
	struct irq_routing *r;
	unsigned nr;
	int *gsi;
};

static int ioctl_err(const char *what)
{
	int err = -errno;
	log_error("kvm: %s failed: %s", what, strerror(errno));
	return err;
}

static struct kvm_irq_routing_entry irqchip_route(unsigned gsi, unsigned chip, unsigned pin)
{
	struct kvm_irq_routing_entry e = { .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP };
	e.u.irqchip.irqchip = chip;
	e.u.irqchip.pin = pin;
	return e;
}

static struct kvm_irq_routing_entry msi_route(unsigned gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing_entry e = { .gsi = gsi, .type = KVM_IRQ_ROUTING_MSI };
	e.u.msi.address_lo = (uint32_t)addr;
	e.u.msi.address_hi = (uint32_t)(addr >> 32);
	e.u.msi.data = data;
	return e;
}

/* KVM refuses irqchip routes with a split irqchip. */
static unsigned fill_pin_routes(const struct irq_routing *r, struct kvm_irq_routing_entry *e)
{
	unsigned n = 0;
	for (unsigned gsi = 0; gsi < IOAPIC_NR_PINS; gsi++) {
		if (r->split) {
			if (r->pin[gsi].routed)
				e[n++] = msi_route(gsi, r->pin[gsi].addr, r->pin[gsi].data);
			continue;
		}
		e[n++] = irqchip_route(gsi, KVM_IRQCHIP_IOAPIC, gsi);
		if (gsi < 16)
			e[n++] = irqchip_route(gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
							      KVM_IRQCHIP_PIC_SLAVE, gsi % 8);
	}
	return n;
}

/* Rebuilds the whole table (KVM_SET_GSI_ROUTING replaces it). Lock held. */
static int commit_table(struct irq_routing *r)
{
	struct kvm_irq_routing *t = r->table;
	unsigned n = fill_pin_routes(r, t->entries);
	for (unsigned i = 0; i < r->nr_msi; i++) {
		const struct msi_gsi *m = &r->msi[i];
		if (m->used && m->routed)
			t->entries[n++] = msi_route(IRQ_ROUTING_FIRST_MSI_GSI + i, m->addr, m->data);
	}
	t->nr = n;
	t->flags = 0;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		return ioctl_err("KVM_SET_GSI_ROUTING");
	return 0;
}

int irq_routing_create(struct kvm *k, struct irq_routing **out)
{
	int max = kvm_check_extension(k, KVM_CAP_IRQ_ROUTING);
	if (max <= IRQ_ROUTING_FIRST_MSI_GSI) {
		log_error("kvm: GSI routing unavailable (KVM_CAP_IRQ_ROUTING = %d)", max);
		return -ENOTSUP;
	}
	struct irq_routing *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->vm_fd = k->vm_fd;
	r->split = k->split_irqchip;
	r->nr_msi = (unsigned)max - IRQ_ROUTING_FIRST_MSI_GSI;
	r->msi = xcalloc(r->nr_msi, sizeof(r->msi[0]));
	r->table = xcalloc(1, sizeof(*r->table) +
			   (NR_DEFAULT_ROUTES + r->nr_msi) * sizeof(r->table->entries[0]));
	pthread_mutex_lock(&r->lock);
	int err = commit_table(r);
	pthread_mutex_unlock(&r->lock);
	if (err) {
		irq_routing_destroy(r);
		return err;
	}
	*out = r;
	return 0;
}

static struct msi_gsi *lookup(struct irq_routing *r, unsigned gsi)
{
	if (gsi < IRQ_ROUTING_FIRST_MSI_GSI || gsi - IRQ_ROUTING_FIRST_MSI_GSI >= r->nr_msi)
		return NULL;
	struct msi_gsi *m = &r->msi[gsi - IRQ_ROUTING_FIRST_MSI_GSI];
	return m->used ? m : NULL;
}

static int set_irqfd(struct irq_routing *r, unsigned gsi, struct msi_gsi *m, bool attach)
{
	if (m->attached == attach)
		return 0;
	struct kvm_irqfd f = {
		.fd = (uint32_t)m->efd,
		.gsi = gsi,
		.flags = attach ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};
	if (ioctl(r->vm_fd, KVM_IRQFD, &f) < 0)
		return ioctl_err(attach ? "KVM_IRQFD" : "KVM_IRQFD(deassign)");
	m->attached = attach;
	return 0;
}

void irq_routing_destroy(struct irq_routing *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nr_msi; i++) {
		struct msi_gsi *m = &r->msi[i];
		if (!m->used)
			continue;
		set_irqfd(r, IRQ_ROUTING_FIRST_MSI_GSI + i, m, false);
		close(m->efd);
	}
	pthread_mutex_destroy(&r->lock);
	free(r->msi);
	free(r->table);
	free(r);
}

int irq_routing_msi_alloc(struct irq_routing *r)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return ioctl_err("eventfd");
	int gsi = -ENOSPC;
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr_msi; i++) {
		if (!r->msi[i].used) {
			r->msi[i] = (struct msi_gsi){ .used = true, .efd = efd };
			gsi = (int)(IRQ_ROUTING_FIRST_MSI_GSI + i);
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (gsi < 0) {
		log_error("kvm: no free GSI for an MSI vector");
		close(efd);
	}
	return gsi;
}

void irq_routing_msi_free(struct irq_routing *r, unsigned gsi)
{
	pthread_mutex_lock(&r->lock);
	struct msi_gsi *m = lookup(r, gsi);
	if (m) {
		set_irqfd(r, gsi, m, false);
		close(m->efd);
		bool was_routed = m->routed;
		*m = (struct msi_gsi){ .efd = -1 };
		if (was_routed)
			commit_table(r);
	}
	pthread_mutex_unlock(&r->lock);
}

int irq_routing_msi_set(struct irq_routing *r, unsigned gsi, uint64_t addr, uint32_t data,
			bool masked)
{
	int err = 0;
	pthread_mutex_lock(&r->lock);
	struct msi_gsi *m = lookup(r, gsi);
	if (!m) {
		err = -EINVAL;
		goto out;
	}
	if (masked) {
		/* Detach first so nothing is delivered with a stale message. */
		err = set_irqfd(r, gsi, m, false);
	}
	if (!err && (!m->routed || m->addr != addr || m->data != data)) {
		m->routed = true;
		m->addr = addr;
		m->data = data;
		err = commit_table(r);
	}
	if (!err && !masked)
		err = set_irqfd(r, gsi, m, true);
out:
	pthread_mutex_unlock(&r->lock);
	return err;
}

int irq_routing_msi_eventfd(struct irq_routing *r, unsigned gsi)
{
	pthread_mutex_lock(&r->lock);
	struct msi_gsi *m = lookup(r, gsi);
	int fd = m ? m->efd : -EINVAL;
	pthread_mutex_unlock(&r->lock);
	return fd;
}

int irq_routing_msi_trigger(struct irq_routing *r, unsigned gsi)
{
	int fd = irq_routing_msi_eventfd(r, gsi);
	if (fd < 0)
		return fd;
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

int irq_routing_ioapic_route(struct irq_routing *r, unsigned pin, uint64_t addr, uint32_t data)
{
	if (!r->split || pin >= IOAPIC_NR_PINS)
		return -EINVAL;
	int err = 0;
	pthread_mutex_lock(&r->lock);
	struct pin_route *p = &r->pin[pin];
	if (!p->routed || p->addr != addr || p->data != data) {
		*p = (struct pin_route){ .routed = true, .addr = addr, .data = data };
		err = commit_table(r);
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

int irq_routing_signal_msi(struct irq_routing *r, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};
	int ret = ioctl(r->vm_fd, KVM_SIGNAL_MSI, &msi);
	return ret < 0 ? -errno : ret;
}

int msi_vectors_create(struct irq_routing *r, unsigned nr, struct msi_vectors **out)
{
	struct msi_vectors *v = xcalloc(1, sizeof(*v));
	v->r = r;
	v->gsi = xcalloc(nr, sizeof(v->gsi[0]));
	for (unsigned i = 0; i < nr; i++) {
		int gsi = irq_routing_msi_alloc(r);
		if (gsi < 0) {
			msi_vectors_destroy(v);
			return gsi;
		}
		v->gsi[v->nr++] = gsi;
	}
	*out = v;
	return 0;
}

void msi_vectors_destroy(struct msi_vectors *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < v->nr; i++)
		irq_routing_msi_free(v->r, (unsigned)v->gsi[i]);
	free(v->gsi);
	free(v);
}

static int sink_update(void *ctx, unsigned vector, uint64_t addr, uint32_t data, bool masked)
{
	struct msi_vectors *v = ctx;
	if (vector >= v->nr)
		return -EINVAL;
	return irq_routing_msi_set(v->r, (unsigned)v->gsi[vector], addr, data, masked);
}

static void sink_fire(void *ctx, unsigned vector)
{
	struct msi_vectors *v = ctx;
	if (vector < v->nr && irq_routing_msi_trigger(v->r, (unsigned)v->gsi[vector]) < 0)
		log_warn("kvm: cannot raise MSI vector %u (GSI %d)", vector, v->gsi[vector]);
}

struct msi_sink msi_vectors_sink(struct msi_vectors *v)
{
	return (struct msi_sink){ .update = sink_update, .fire = sink_fire, .ctx = v };
}

int msi_vectors_eventfd(struct msi_vectors *v, unsigned vector)
{
	return vector < v->nr ? irq_routing_msi_eventfd(v->r, (unsigned)v->gsi[vector]) : -EINVAL;
}

int msi_vectors_gsi(struct msi_vectors *v, unsigned vector)
{
	return vector < v->nr ? v->gsi[vector] : -EINVAL;
}
