/* The vhost-user wire protocol (QEMU docs/interop/vhost-user.rst), backend
 * side: message layouts, reading one message with its file descriptors from
 * a Unix socket, and the structural checks every message must pass before
 * it is acted on (sizes, fd counts, queue indices, region bounds). Nothing
 * here keeps state: the backend (vu_backend.h) gives the messages meaning. */
#ifndef ALIOTH_VHOST_VU_PROTO_H
#define ALIOTH_VHOST_VU_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define VU_HDR_SIZE            12
#define VU_VERSION             0x1
#define VU_FLAG_VERSION_MASK   0x3
#define VU_FLAG_REPLY          (1u << 2)
#define VU_FLAG_NEED_REPLY     (1u << 3)
#define VU_MAX_FDS             8
#define VU_MAX_CONFIG          256   /* VHOST_USER_MAX_CONFIG_SIZE */
#define VU_MAX_MEM_REGIONS     GM_MAX_REGIONS
#define VU_CONFIG_HDR_SIZE     12
/* The largest payload any accepted request has (SET_MEM_TABLE with 8
 * regions is 264, a config access 268); a larger declared size is refused
 * before anything is read. */
#define VU_MAX_PAYLOAD         (VU_CONFIG_HDR_SIZE + VU_MAX_CONFIG)

/* SET_VRING_KICK / CALL / ERR payload: the ring index, plus a flag saying
 * no descriptor came with the message. */
#define VU_VRING_IDX_MASK      0xffu
#define VU_VRING_NOFD          (1u << 8)

/* The virtio feature bit that announces protocol features. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

enum vu_protocol_feature {
	VU_PROTO_MQ = 0,
	VU_PROTO_LOG_SHMFD = 1,
	VU_PROTO_REPLY_ACK = 3,
	VU_PROTO_BACKEND_REQ = 5,
	VU_PROTO_CONFIG = 9,
	VU_PROTO_RESET_DEVICE = 13,
	VU_PROTO_CONFIGURE_MEM_SLOTS = 15,
	VU_PROTO_STATUS = 16,
};

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_RESET_DEVICE = 34,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_ADD_MEM_REG = 37,
	VU_REM_MEM_REG = 38,
	VU_SET_STATUS = 39,
	VU_GET_STATUS = 40,
};

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes after the header */
};

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

/* Ring parts as frontend virtual addresses; note used comes before avail. */
struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};
#define VU_VRING_F_LOG 1u

struct vu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;         /* where the frontend has it mapped */
	uint64_t mmap_offset; /* into the region's fd */
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region region[VU_MAX_MEM_REGIONS];
};
#define VU_MEM_TABLE_HDR_SIZE 8

struct vu_mem_single {
	uint64_t padding;
	struct vu_mem_region region;
};

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VU_MAX_CONFIG];
};

/* One message as received. fds[] holds nfds descriptors the receiver owns;
 * a consumer that keeps one sets its slot to -1. */
struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table mem;
		struct vu_mem_single reg;
		struct vu_config config;
		uint8_t raw[VU_MAX_PAYLOAD];
	} p;
	int fds[VU_MAX_FDS];
	unsigned nfds;
};
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring address layout");
_Static_assert(sizeof(struct vu_mem_region) == 32, "memory region layout");
_Static_assert(sizeof(struct vu_mem_single) == 40, "single region layout");

/* Reads one message: header and file descriptors, then the payload.
 * Returns 1 with *m filled, 0 on a clean end of stream before a header,
 * or -errno (-EPROTO: truncated control data, an oversize payload or a
 * short message) with a reason in why. On error no fd stays open. */
int vu_msg_recv(int sock, struct vu_msg *m, char *why, size_t whylen);

/* Parses a message from a byte buffer (what vu_msg_recv does after the
 * socket reads; used by tests and the fuzzer). fds are taken as given.
 * Returns the bytes consumed, 0 when more bytes are needed, or -EPROTO. */
long vu_msg_parse(const uint8_t *buf, size_t len, struct vu_msg *m, char *why, size_t whylen);

/* Structural checks of a request against a device with nr_queues queues:
 * version and flags, the payload size the request must have, the number of
 * fds it may carry, the queue index, and memory regions (non-empty, no
 * 64-bit overflow of gpa/uva/offset + size, no overlap within a table).
 * 0, or -EPROTO with a reason. */
int vu_msg_check(const struct vu_msg *m, unsigned nr_queues, char *why, size_t whylen);

/* Checks one region on its own (as ADD_MEM_REG gets it). */
bool vu_region_valid(const struct vu_mem_region *r);
/* Whether two regions overlap in guest-physical or frontend-virtual space. */
bool vu_regions_overlap(const struct vu_mem_region *a, const struct vu_mem_region *b);

/* Closes every fd still in m and sets nfds to 0. */
void vu_msg_close_fds(struct vu_msg *m);

/* Request name for logs ("SET_MEM_TABLE"), or "unknown". */
const char *vu_request_name(uint32_t request);

#endif
