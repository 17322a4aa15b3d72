/* Constants of the virtio 1.2 specification shared by the virtqueue code,
 * the transports and the devices: feature bits, device status bits,
 * descriptor flags and the byte layout of split and packed rings. All ring
 * fields are little-endian. */
#ifndef ALIOTH_VIRTIO_VIRTIO_SPEC_H
#define ALIOTH_VIRTIO_VIRTIO_SPEC_H

#include <stdint.h>

/* Feature bits (bit numbers) that concern the rings and the transports. */
#define VIRTIO_F_INDIRECT_DESC      28
#define VIRTIO_F_EVENT_IDX          29
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_F_ACCESS_PLATFORM    33
#define VIRTIO_F_RING_PACKED        34
#define VIRTIO_F_IN_ORDER           35

/* Device status register. */
#define VIRTIO_STATUS_ACKNOWLEDGE   0x01
#define VIRTIO_STATUS_DRIVER        0x02
#define VIRTIO_STATUS_DRIVER_OK     0x04
#define VIRTIO_STATUS_FEATURES_OK   0x08
#define VIRTIO_STATUS_NEEDS_RESET   0x40
#define VIRTIO_STATUS_FAILED        0x80

/* Descriptor flags (split and packed). */
#define VIRTQ_DESC_F_NEXT           0x0001
#define VIRTQ_DESC_F_WRITE          0x0002
#define VIRTQ_DESC_F_INDIRECT       0x0004
#define VIRTQ_DESC_F_AVAIL          0x0080 /* packed only */
#define VIRTQ_DESC_F_USED           0x8000 /* packed only */

/* Both formats use 16-byte descriptors:
 *   split:  le64 addr; le32 len; le16 flags; le16 next;
 *   packed: le64 addr; le32 len; le16 id;    le16 flags; */
#define VIRTQ_DESC_SIZE             16
#define VIRTQ_DESC_ADDR             0
#define VIRTQ_DESC_LEN              8
#define VIRTQ_SPLIT_DESC_FLAGS      12
#define VIRTQ_SPLIT_DESC_NEXT       14
#define VIRTQ_PACKED_DESC_ID        12
#define VIRTQ_PACKED_DESC_FLAGS     14

/* Split available ring: le16 flags; le16 idx; le16 ring[n]; le16 used_event; */
#define VIRTQ_AVAIL_F_NO_INTERRUPT  1
#define VIRTQ_AVAIL_FLAGS           0
#define VIRTQ_AVAIL_IDX             2
#define VIRTQ_AVAIL_RING(i)         (4 + 2 * (uint64_t)(i))
#define VIRTQ_AVAIL_SIZE(n)         (6 + 2 * (uint64_t)(n))

/* Split used ring: le16 flags; le16 idx; {le32 id; le32 len} ring[n];
 * le16 avail_event; */
#define VIRTQ_USED_F_NO_NOTIFY      1
#define VIRTQ_USED_FLAGS            0
#define VIRTQ_USED_IDX              2
#define VIRTQ_USED_RING(i)          (4 + 8 * (uint64_t)(i))
#define VIRTQ_USED_SIZE(n)          (6 + 8 * (uint64_t)(n))

/* Alignment the spec requires of each ring part. */
#define VIRTQ_DESC_ALIGN            16
#define VIRTQ_AVAIL_ALIGN           2
#define VIRTQ_USED_ALIGN            4
#define VIRTQ_EVENT_ALIGN           4

/* Packed event suppression: le16 off_wrap (offset:15, wrap:1); le16 flags; */
#define VIRTQ_EVENT_OFF_WRAP        0
#define VIRTQ_EVENT_FLAGS           2
#define VIRTQ_EVENT_SIZE            4
#define VIRTQ_EVENT_WRAP_BIT        0x8000
#define RING_EVENT_FLAGS_ENABLE     0x0
#define RING_EVENT_FLAGS_DISABLE    0x1
#define RING_EVENT_FLAGS_DESC       0x2
#define RING_EVENT_FLAGS_MASK       0x3

#endif
