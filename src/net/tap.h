/* A TAP network backend: a TUN/TAP interface (/dev/net/tun and a name) or
 * a macvtap/ipvtap character device (/dev/tapN), opened with IFF_VNET_HDR
 * so that frames carry virtio-net headers, one non-blocking fd per queue
 * pair (IFF_MULTI_QUEUE when there are several). */
#ifndef ALIOTH_NET_TAP_H
#define ALIOTH_NET_TAP_H

#include <stddef.h>

#include "net/net_backend.h"

#define TAP_MAX_PAIRS 16

struct tap_params {
	const char *dev;     /* NULL: /dev/net/tun */
	const char *ifname;  /* NULL: the kernel picks one (TUN/TAP only) */
	unsigned pairs;      /* 1..TAP_MAX_PAIRS */
};

/* Opens and configures the queues. On failure returns -errno with one line
 * in err naming the cause (missing device, permission, busy interface). */
int tap_open(const struct tap_params *p, struct net_backend **out, char *err, size_t errlen);

/* The TUN_F_* bits for NET_OFFLOAD_* bits (Linux if_tun.h). */
unsigned tap_tun_flags(unsigned offloads);

#endif
