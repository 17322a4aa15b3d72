#include "board/virtio_board.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "board/board.h"
#include "hv/ioeventfd.h"
#include "hv/irq_routing.h"
#include "pci/bus.h"
#include "util/log.h"
#include "util/util.h"
#include "virtio/virtio_pci.h"

struct board_virtio {
	struct virtio_pci *vp;
	struct msi_vectors *vectors;
	struct board_virtio *next;
};

static int place(struct machine *m, struct board_virtio *bv, const struct virtio_dev_ops *ops,
		 const struct virtio_pci_opts *opts)
{
	int slot = opts && opts->slot > 0 ? opts->slot : -1;
	int err = pci_bus_add_device(m->pci, virtio_pci_config(bv->vp), ops->name, slot, NULL);
	if (err) {
		log_error("%s: cannot add the device to the PCI bus: %s", ops->name, strerror(-err));
		return err;
	}
	virtio_pci_sync_doorbells(bv->vp);
	return virtio_pci_start(bv->vp);
}

static int vector_eventfd(void *vectors, unsigned vector)
{
	return msi_vectors_eventfd(vectors, vector);
}

int board_add_virtio(struct machine *m, const struct virtio_dev_ops *ops, void *dev,
		     const struct virtio_pci_opts *opts)
{
	struct board_virtio *bv = xcalloc(1, sizeof(*bv));
	int err = msi_vectors_create(m->irq_routing, virtio_pci_nr_vectors(ops), &bv->vectors);
	if (err) {
		log_error("%s: cannot allocate MSI vectors: %s", ops->name, strerror(-err));
		goto fail;
	}
	const struct virtio_pci_host host = {
		.gm = &m->mem,
		.msi = msi_vectors_sink(bv->vectors),
		.doorbells = ioeventfd_doorbells(&m->kvm),
		.vector_eventfd = vector_eventfd,
		.vector_ctx = bv->vectors,
	};
	bv->vp = virtio_pci_create(ops, dev, opts, &host);
	if (!bv->vp) {
		err = -EINVAL;
		goto fail;
	}
	/* Listed before it is placed: once on the bus, only teardown may free it. */
	bv->next = m->virtio;
	m->virtio = bv;
	return place(m, bv, ops, opts);
fail:
	if (ops->destroy)
		ops->destroy(dev);
	if (bv->vectors)
		msi_vectors_destroy(bv->vectors);
	free(bv);
	return err;
}

void board_virtio_destroy_all(struct machine *m)
{
	while (m->virtio) {
		struct board_virtio *bv = m->virtio;
		m->virtio = bv->next;
		virtio_pci_destroy(bv->vp);
		msi_vectors_destroy(bv->vectors);
		free(bv);
	}
}
