/* A user-mode network backend (`--net user`): libslirp on a thread of its
 * own gives the guest DHCP, DNS forwarding, outbound TCP/UDP through host
 * sockets and host port forwards, with QEMU's addresses (10.0.2.0/24,
 * gateway 10.0.2.2, DNS 10.0.2.3, first lease 10.0.2.15). No root, no TAP. */
#ifndef ALIOTH_NET_SLIRP_H
#define ALIOTH_NET_SLIRP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net_backend.h"

#define SLIRP_MAX_HOSTFWD 16
/* Frames for the guest held while its receive ring is full; more are
 * dropped (and counted): TCP retransmits, as it would on a real link. */
#define SLIRP_RXQ_FRAMES 256
#define SLIRP_MIN_MTU 68
#define SLIRP_MAX_MTU 65521 /* libslirp's IF_MTU_MAX */

/* One host port forward: host_addr:host_port on the host to
 * guest_addr:guest_port in the guest network. */
struct slirp_hostfwd {
	bool udp;
	struct in_addr host_addr;  /* INADDR_ANY when left out, as QEMU */
	uint16_t host_port;
	struct in_addr guest_addr; /* 10.0.2.15 when left out */
	uint16_t guest_port;
};

/* Parses QEMU's hostfwd rules, several separated by ';' (or ',', which
 * only an -o object can carry): "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport".
 * Returns the number of rules (>= 1) or -1 with one line in err. */
int slirp_parse_hostfwds(const char *text, struct slirp_hostfwd *out, unsigned max, char *err,
			 size_t errlen);

struct slirp_params {
	uint16_t mtu;                     /* 0: 1500 */
	bool restricted;                  /* the guest reaches only forwards and DHCP */
	const struct slirp_hostfwd *fwd;
	unsigned nfwd;
};

/* Starts the stack and its thread and adds the forwards. On failure
 * returns -errno with one line in err (e.g. a host port already in use). */
int slirp_open(const struct slirp_params *p, struct net_backend **out, char *err, size_t errlen);

struct slirp_stats {
	uint64_t rx_queued;   /* frames slirp produced for the guest */
	uint64_t rx_dropped;  /* ... dropped because SLIRP_RXQ_FRAMES were waiting */
	uint64_t tx_frames;   /* frames handed to slirp (after segmentation) */
	uint64_t tx_bad;      /* guest frames refused: bad checksum or GSO request */
};
/* b must come from slirp_open. */
void slirp_get_stats(struct net_backend *b, struct slirp_stats *out);

/* libslirp takes whole frames with complete checksums, while the device
 * offers the guest checksum and TSO offloads: this finishes a guest frame
 * as its virtio-net header asks (NEEDS_CSUM: the checksum at csum_start +
 * csum_offset; GSO TCPv4/v6: segments of gso_size) and calls emit once per
 * frame. scratch holds NET_MAX_FRAME bytes. Exposed for tests. 0 or -EINVAL. */
int slirp_finish_frame(const uint8_t hdr[NET_HDR_LEN], uint8_t *frame, size_t len,
		       uint8_t *scratch, void (*emit)(void *arg, const uint8_t *f, size_t n),
		       void *arg);

#endif
