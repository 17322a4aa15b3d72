/* virtio-entropy (device type 4, "virtio-rng"): one queue whose writable
 * buffers the device fills with random bytes from the host's getrandom(). */
#ifndef ALIOTH_VIRTIO_ENTROPY_H
#define ALIOTH_VIRTIO_ENTROPY_H

#include "virtio/virtio_dev.h"

struct virtio_entropy;

extern const struct virtio_dev_ops virtio_entropy_ops;

struct virtio_entropy *virtio_entropy_create(void);
/* The same as virtio_entropy_ops.destroy. */
void virtio_entropy_destroy(struct virtio_entropy *e);

#endif
