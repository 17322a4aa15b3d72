#include "dev/ioapic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/log.h"

#define REG_SELECT 0x00   /* IOREGSEL */
#define REG_WINDOW 0x10   /* IOWIN */

#define IDX_ID       0x00
#define IDX_VERSION  0x01
#define IDX_ARB      0x02
#define IDX_REDIR    0x10 /* two 32-bit halves per pin */

#define IOAPIC_VERSION 0x11
#define ID_MASK        0x0F000000u

/* Redirection entry fields. */
#define RTE_VECTOR        0xFFull
#define RTE_DELIVERY(e)   (((e) >> 8) & 7)
#define RTE_DEST_LOGICAL  (1ull << 11)
#define RTE_DELIVERY_STAT (1ull << 12)
#define RTE_REMOTE_IRR    (1ull << 14)
#define RTE_LEVEL         (1ull << 15)
#define RTE_MASKED        (1ull << 16)
#define RTE_DEST(e)       ((e) >> 56)
/* Delivery status and Remote IRR are the IOAPIC's; the guest cannot write them. */
#define RTE_READ_ONLY     (RTE_DELIVERY_STAT | RTE_REMOTE_IRR)

#define MSI_ADDR_BASE     0xFEE00000ull

struct ioapic {
	pthread_mutex_t lock;
	struct ioapic_msi_ops ops;
	uint32_t select;
	uint32_t id;                  /* as read: bits 24-27 */
	uint32_t asserted;            /* pin levels, one bit per pin */
	uint64_t rte[IOAPIC_PINS];
};

struct ioapic *ioapic_create(const struct ioapic_msi_ops *ops)
{
	struct ioapic *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	pthread_mutex_init(&a->lock, NULL);
	a->ops = *ops;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		a->rte[i] = RTE_MASKED;
	return a;
}

void ioapic_destroy(struct ioapic *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static uint64_t msi_addr(uint64_t rte)
{
	return MSI_ADDR_BASE | (RTE_DEST(rte) << 12) | ((rte & RTE_DEST_LOGICAL) ? 1u << 2 : 0);
}

static uint32_t msi_data(uint64_t rte)
{
	return (uint32_t)((rte & RTE_VECTOR) | (RTE_DELIVERY(rte) << 8) |
			  ((rte & RTE_LEVEL) ? 1u << 15 : 0));
}

static void deliver(struct ioapic *a, unsigned pin)
{
	uint64_t *rte = &a->rte[pin];
	int ret = a->ops.send(a->ops.ctx, msi_addr(*rte), msi_data(*rte));
	if (ret < 0)
		log_warn("ioapic: pin %u: cannot send vector %u: error %d", pin,
			 (unsigned)(*rte & RTE_VECTOR), ret);
	/* Only an accepted message is ever EOIed; an unaccepted one stays
	 * pending and is retried at the next change of line or entry. */
	if (ret > 0 && (*rte & RTE_LEVEL))
		*rte |= RTE_REMOTE_IRR;
}

/* A level-triggered pin interrupts for as long as it is asserted, one
 * message per EOI. Lock held. */
static void service_level(struct ioapic *a, unsigned pin)
{
	uint64_t rte = a->rte[pin];
	if ((rte & RTE_LEVEL) && !(rte & (RTE_MASKED | RTE_REMOTE_IRR)) &&
	    (a->asserted & (1u << pin)))
		deliver(a, pin);
}

/* The board's lines are logical (1 = asserted) whatever the entry's
 * polarity bit says, as with KVM's and QEMU's IOAPICs. */
void ioapic_set_level(struct ioapic *a, unsigned pin, int level)
{
	if (pin >= IOAPIC_PINS)
		return;
	uint32_t bit = 1u << pin;
	pthread_mutex_lock(&a->lock);
	bool rising = level && !(a->asserted & bit);
	if (level)
		a->asserted |= bit;
	else
		a->asserted &= ~bit;
	uint64_t rte = a->rte[pin];
	if (rte & RTE_LEVEL)
		service_level(a, pin);
	else if (rising && !(rte & RTE_MASKED))
		deliver(a, pin); /* an edge on a masked pin is lost, as on the 82093AA */
	pthread_mutex_unlock(&a->lock);
}

void ioapic_eoi(struct ioapic *a, uint8_t vector)
{
	pthread_mutex_lock(&a->lock);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *rte = &a->rte[pin];
		if ((*rte & RTE_VECTOR) != vector || !(*rte & RTE_REMOTE_IRR))
			continue;
		*rte &= ~RTE_REMOTE_IRR;
		service_level(a, pin);
	}
	pthread_mutex_unlock(&a->lock);
}

static uint32_t read_register(const struct ioapic *a)
{
	switch (a->select) {
	case IDX_ID:
	case IDX_ARB:
		return a->id;
	case IDX_VERSION:
		return IOAPIC_VERSION | ((IOAPIC_PINS - 1) << 16);
	}
	unsigned pin = (a->select - IDX_REDIR) / 2;
	if (a->select < IDX_REDIR || pin >= IOAPIC_PINS)
		return 0;
	uint64_t rte = a->rte[pin];
	return (uint32_t)(a->select & 1 ? rte >> 32 : rte);
}

static void write_entry(struct ioapic *a, unsigned pin, bool high, uint32_t val)
{
	uint64_t old = a->rte[pin];
	uint64_t rte = high ? (old & 0xFFFFFFFFull) | ((uint64_t)val << 32) :
			      (old & ~0xFFFFFFFFull) | val;
	rte = (rte & ~RTE_READ_ONLY) | (old & RTE_READ_ONLY);
	/* Linux clears a stuck Remote IRR on IOAPICs without an EOI register
	 * (version < 0x20) by switching the entry to edge and back. */
	if (!(rte & RTE_LEVEL))
		rte &= ~RTE_REMOTE_IRR;
	a->rte[pin] = rte;
	if (a->ops.route)
		a->ops.route(a->ops.ctx, pin, msi_addr(rte), msi_data(rte));
	/* Unmasking (or turning level) an asserted level pin interrupts now. */
	service_level(a, pin);
}

static void write_register(struct ioapic *a, uint32_t val)
{
	if (a->select == IDX_ID) {
		a->id = val & ID_MASK;
		return;
	}
	unsigned pin = (a->select - IDX_REDIR) / 2;
	if (a->select >= IDX_REDIR && pin < IOAPIC_PINS)
		write_entry(a, pin, a->select & 1, val);
	else
		log_debug("ioapic: write to read-only or unknown register %#x", a->select);
}

static uint64_t mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct ioapic *a = dev;
	if (size != 4)
		return 0;
	uint32_t val = 0;
	pthread_mutex_lock(&a->lock);
	if (off == REG_SELECT)
		val = a->select;
	else if (off == REG_WINDOW)
		val = read_register(a);
	pthread_mutex_unlock(&a->lock);
	return val;
}

static void mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct ioapic *a = dev;
	if (size != 4)
		return;
	pthread_mutex_lock(&a->lock);
	if (off == REG_SELECT)
		a->select = (uint32_t)val & 0xFF;
	else if (off == REG_WINDOW)
		write_register(a, (uint32_t)val);
	pthread_mutex_unlock(&a->lock);
}

const struct io_ops ioapic_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};
