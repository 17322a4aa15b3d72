/* The vhost-user frontend (`alioth boot --blk vu,socket=PATH`, `--net
 * vu,socket=PATH`): a virtio device on this VMM's PCI bus whose rings
 * another process serves over a Unix socket. Guest memory goes to the
 * backend as memfd regions; each ring goes with the queue's ioeventfd and
 * its MSI-X irqfd, so kicks and interrupts never pass through this process. */
#ifndef ALIOTH_VHOST_VU_FRONTEND_H
#define ALIOTH_VHOST_VU_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "vhost/vu_proto.h"
#include "virtio/virtio_dev.h"

#define VU_FRONTEND_QUEUE_SIZE  256   /* ring size offered to the driver */
#define VU_FRONTEND_MAX_QUEUES  64
#define VU_FRONTEND_TIMEOUT_MS  10000 /* no reply by then: the backend is gone */
/* Protocol features a backend must offer (as Alioth, minus the memory-slot
 * requests, which this frontend does not use). */
#define VU_FRONTEND_NEEDED_PROTOCOL \
	(1ULL << VU_PROTO_MQ | 1ULL << VU_PROTO_REPLY_ACK | 1ULL << VU_PROTO_CONFIG)

/* The virtio device types a frontend can stand for. */
#define VU_FRONTEND_NET 1
#define VU_FRONTEND_BLK 2

struct vu_frontend;

/* One ring handed to the backend. Ring addresses are this process's
 * pointers (the memory table maps them). size 0: the queue is off. */
struct vu_frontend_ring {
	uint16_t size;
	uint64_t desc, avail, used; /* packed: ring, driver area, device area */
	int kick_fd;
	int call_fd;                /* -1: none (the driver polls) */
};

/* Connects to the backend at path and sets it up: GET_FEATURES, SET_OWNER,
 * protocol features, GET_QUEUE_NUM, the device configuration, one error
 * eventfd per queue, and SET_MEM_TABLE with gm's memfd regions (gm must
 * outlive the frontend). device_id: VU_FRONTEND_NET or VU_FRONTEND_BLK. On failure returns
 * -errno with one line in err that names the socket. */
int vu_frontend_connect(const char *path, uint16_t device_id, const struct guest_mem *gm,
			struct vu_frontend **out, char *err, size_t errlen);
/* The same over a connected socket, which is taken over (closed on failure
 * too); path only names the backend in messages. */
int vu_frontend_open(int sock, const char *path, uint16_t device_id, const struct guest_mem *gm,
		     struct vu_frontend **out, char *err, size_t errlen);
void vu_frontend_destroy(struct vu_frontend *fe);

/* The device as the PCI transport sees it (dev = fe; ops->destroy frees
 * fe). Host it with virtio_pci_opts.remote_rings. */
const struct virtio_dev_ops *vu_frontend_ops(struct vu_frontend *fe);

/* The backend's virtio features, without VHOST_USER_F_PROTOCOL_FEATURES. */
uint64_t vu_frontend_backend_features(const struct vu_frontend *fe);
unsigned vu_frontend_num_queues(const struct vu_frontend *fe);
bool vu_frontend_alive(const struct vu_frontend *fe);

/* SET_FEATURES (the driver's features), then for each of the n rings that
 * is on: SET_VRING_NUM, BASE (the ring's start), ADDR, CALL, KICK, ENABLE.
 * 0, or -errno when the backend refused or is gone (it then counts as gone:
 * later requests fail at once). */
int vu_frontend_start(struct vu_frontend *fe, uint64_t features,
		      const struct vu_frontend_ring *rings, unsigned n);
/* Stops what start started: SET_VRING_ENABLE 0 and GET_VRING_BASE each.
 * 0 or -errno. */
int vu_frontend_stop(struct vu_frontend *fe);
/* Device configuration [off, off + len). The whole space is fetched from
 * offset 0 each time (libvhost-user backends ignore the offset); when the
 * backend is gone, the bytes last fetched. 0 or -errno. */
int vu_frontend_read_config(struct vu_frontend *fe, uint32_t off, void *buf, uint32_t len);
int vu_frontend_write_config(struct vu_frontend *fe, uint32_t off, const void *buf, uint32_t len);
/* Looks at the socket when it polled readable outside a request: the
 * backend closed it, or sent something nobody asked for. Either way it is
 * gone. Returns whether it still is alive. */
bool vu_frontend_check_socket(struct vu_frontend *fe);

#endif
