/* virtio-pci modern register offsets (common configuration), device status
 * bits and descriptor flags, shared by the test guest's virtio drivers. */
#ifndef GUEST_VIRTIO_REGS_H
#define GUEST_VIRTIO_REGS_H

#define CC_DFSELECT      0
#define CC_DF            4
#define CC_GFSELECT      8
#define CC_GF            12
#define CC_MSIX          16
#define CC_NUMQ          18
#define CC_STATUS        20
#define CC_Q_SELECT      22
#define CC_Q_SIZE        24
#define CC_Q_MSIX        26
#define CC_Q_ENABLE      28
#define CC_Q_NOFF        30
#define CC_Q_DESC        32
#define CC_Q_DRIVER      40
#define CC_Q_DEVICE      48
#define ST_ACKNOWLEDGE   0x01
#define ST_DRIVER        0x02
#define ST_DRIVER_OK     0x04
#define ST_FEATURES_OK   0x08
#define NO_VECTOR        0xFFFF
#define DESC_F_NEXT      0x1
#define DESC_F_WRITE     0x2
#define DESC_F_INDIRECT  0x4
#define DESC_F_AVAIL     0x80
#define DESC_F_USED      0x8000

#endif
