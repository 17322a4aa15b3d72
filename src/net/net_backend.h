/* What virtio-net needs from a network backend, whatever carries the frames
 * (a TAP device here; a user-mode stack such as libslirp can be another):
 * per queue pair, a pollable fd and whole Ethernet frames, each preceded by
 * a 12-byte virtio_net_hdr_v1 (flags, gso, csum and num_buffers). */
#ifndef ALIOTH_NET_NET_BACKEND_H
#define ALIOTH_NET_NET_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* struct virtio_net_hdr_v1 (virtio 1.2 §5.1.6): every frame starts with it. */
#define NET_HDR_LEN 12
/* The largest frame with its header either way: a 64 KiB GSO packet plus an
 * Ethernet and a VLAN header. */
#define NET_MAX_FRAME (NET_HDR_LEN + 65535 + 14 + 4)

/* Offloads the guest accepts on receive (virtio GUEST_CSUM/TSO4/TSO6). */
#define NET_OFFLOAD_CSUM 0x1u
#define NET_OFFLOAD_TSO4 0x2u
#define NET_OFFLOAD_TSO6 0x4u

struct net_backend;

struct net_backend_ops {
	/* Readable when pair `pair` has a frame for the guest. */
	int (*rx_fd)(struct net_backend *b, unsigned pair);
	/* One frame (header first) into iov: its length, -EAGAIN when none is
	 * waiting, -EMSGSIZE when it did not fit (it is then gone), -errno. */
	ssize_t (*recv)(struct net_backend *b, unsigned pair, const struct iovec *iov, int iovcnt);
	/* One frame (header first) from the guest: 0 or -errno (-EAGAIN: the
	 * backend is full and the frame was not taken). */
	int (*send)(struct net_backend *b, unsigned pair, const struct iovec *iov, int iovcnt);
	/* Which NET_OFFLOAD_* the backend may hand the guest from now on. */
	int (*set_offload)(struct net_backend *b, unsigned offloads);
	/* Only pairs [0, n) carry traffic from now on (n >= 1). */
	int (*set_active_pairs)(struct net_backend *b, unsigned n);
	void (*destroy)(struct net_backend *b);
};

struct net_backend {
	const struct net_backend_ops *ops;
	unsigned pairs;            /* queue pairs the backend serves */
	unsigned offloads;         /* NET_OFFLOAD_* it can do at all */
	const char *name;          /* for logs, e.g. the interface name */
};

#endif
