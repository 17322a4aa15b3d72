/* A vhost-user device backend: one virtio device (the same device code the
 * PCI transport serves, through virtio_dev.h) driven by a vhost-user
 * frontend over one connected Unix socket. Guest memory arrives as fds and
 * is mapped here; kick eventfds wake the device's I/O worker; used-buffer
 * notifications write the call eventfds. A malformed message ends the
 * connection (logged once), never the process. */
#ifndef ALIOTH_VHOST_VU_BACKEND_H
#define ALIOTH_VHOST_VU_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio_dev.h"

struct vu_backend_opts {
	/* Queues shown to the frontend (GET_QUEUE_NUM); 0 means
	 * ops->num_queues. A device may serve fewer than its ops table has
	 * room for (virtio-blk: num_queues). */
	unsigned nr_queues;
	bool no_packed;    /* do not offer VIRTIO_F_RING_PACKED */
};

struct vu_backend;

/* Wraps dev and starts its I/O worker. opts may be NULL. NULL on failure
 * (logged); dev then stays the caller's. */
struct vu_backend *vu_backend_create(const struct virtio_dev_ops *ops, void *dev,
				     const struct vu_backend_opts *opts);
/* Serves the connection until the frontend closes it (0) or breaks the
 * protocol or the socket fails (-EPROTO / -errno, logged). conn is not
 * closed. */
int vu_backend_serve(struct vu_backend *vu, int conn);
/* Stops the worker, resets and destroys the device (ops->destroy), unmaps
 * guest memory and closes every fd the frontend passed. */
void vu_backend_destroy(struct vu_backend *vu);

/* The virtio feature bits offered in GET_FEATURES (with bit 30). */
uint64_t vu_backend_features(const struct vu_backend *vu);

#endif
