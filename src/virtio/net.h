/* virtio-net (device type 1) over a net_backend (src/net): MAC, MTU and
 * link status in its configuration, checksum and TSO offloads both ways,
 * mergeable receive buffers, a control queue (RX mode, MAC filter, number
 * of queue pairs) and up to TAP_MAX_PAIRS receive/transmit queue pairs. */
#ifndef ALIOTH_VIRTIO_NET_H
#define ALIOTH_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "net/net_backend.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_NET_QUEUE_SIZE 256

/* virtio 1.2 §5.1.3: feature bits. */
#define VIRTIO_NET_F_CSUM        0
#define VIRTIO_NET_F_GUEST_CSUM  1
#define VIRTIO_NET_F_MTU         3
#define VIRTIO_NET_F_MAC         5
#define VIRTIO_NET_F_GUEST_TSO4  7
#define VIRTIO_NET_F_GUEST_TSO6  8
#define VIRTIO_NET_F_HOST_TSO4   11
#define VIRTIO_NET_F_HOST_TSO6   12
#define VIRTIO_NET_F_MRG_RXBUF   15
#define VIRTIO_NET_F_STATUS      16
#define VIRTIO_NET_F_CTRL_VQ     17
#define VIRTIO_NET_F_CTRL_RX     18
#define VIRTIO_NET_F_MQ          22

/* struct virtio_net_config offsets (little-endian). */
#define VIRTIO_NET_CFG_MAC       0
#define VIRTIO_NET_CFG_STATUS    6
#define VIRTIO_NET_CFG_MAX_PAIRS 8
#define VIRTIO_NET_CFG_MTU       10
#define VIRTIO_NET_CFG_SPEED     12
#define VIRTIO_NET_CFG_DUPLEX    16
#define VIRTIO_NET_CFG_SIZE      24
#define VIRTIO_NET_S_LINK_UP     1

/* struct virtio_net_hdr_v1 */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_NUM_BUFFERS  10 /* offset of le16 num_buffers */

/* Control queue classes, commands and acks. */
#define VIRTIO_NET_CTRL_RX          0
#define VIRTIO_NET_CTRL_MAC         1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET  1
#define VIRTIO_NET_CTRL_MQ          4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_OK               0
#define VIRTIO_NET_ERR              1

struct virtio_net_params {
	struct net_backend *backend; /* the device takes it over, also on failure */
	uint8_t mac[6];
	uint16_t mtu;
};

/* What the device did with frames, for logs and tests. */
struct virtio_net_counters {
	uint64_t rx_frames, rx_dropped; /* to the guest; dropped: did not fit */
	uint64_t tx_frames, tx_dropped; /* from the guest; dropped: bad or refused */
};

struct virtio_net;

/* The table shared by all net devices; a device's own table (below) differs
 * only in num_queues, which depends on its queue pairs. */
extern const struct virtio_dev_ops virtio_net_ops;

struct virtio_net *virtio_net_create(const struct virtio_net_params *p);
/* The ops to register the device with: num_queues = 2 * pairs + 1. Lives
 * as long as the device. */
const struct virtio_dev_ops *virtio_net_dev_ops(struct virtio_net *n);
void virtio_net_destroy(struct virtio_net *n);
void virtio_net_get_counters(const struct virtio_net *n, struct virtio_net_counters *out);

/* A random locally administered unicast address (02 bit set, 01 clear). */
void virtio_net_random_mac(uint8_t mac[6]);

/* Header rules, exposed for tests. The receive header the backend produced,
 * made right for what the driver negotiated (flags only with GUEST_CSUM;
 * num_buffers). */
void virtio_net_rx_hdr_fixup(uint8_t hdr[NET_HDR_LEN], uint64_t features, uint16_t num_buffers);
/* Whether a transmit header asks only for what was negotiated. */
bool virtio_net_tx_hdr_ok(const uint8_t hdr[NET_HDR_LEN], uint64_t features);

#endif
