/* How a platform device drives its interrupt line: the board supplies a
 * callback that asserts/deasserts a GSI (KVM_IRQ_LINE on hardware, a
 * recorder in unit tests). */
#ifndef ALIOTH_DEV_IRQ_H
#define ALIOTH_DEV_IRQ_H

struct irq_line {
	void (*set_level)(void *ctx, unsigned gsi, int level);
	void *ctx;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
	if (l->set_level)
		l->set_level(l->ctx, l->gsi, level);
}

#endif
