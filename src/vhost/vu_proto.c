#include "vhost/vu_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

const char *vu_request_name(uint32_t request)
{
	static const char *const names[] = {
		[VU_GET_FEATURES] = "GET_FEATURES",
		[VU_SET_FEATURES] = "SET_FEATURES",
		[VU_SET_OWNER] = "SET_OWNER",
		[VU_RESET_OWNER] = "RESET_OWNER",
		[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VU_SET_LOG_BASE] = "SET_LOG_BASE",
		[VU_SET_LOG_FD] = "SET_LOG_FD",
		[VU_SET_VRING_NUM] = "SET_VRING_NUM",
		[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VU_SET_VRING_BASE] = "SET_VRING_BASE",
		[VU_GET_VRING_BASE] = "GET_VRING_BASE",
		[VU_SET_VRING_KICK] = "SET_VRING_KICK",
		[VU_SET_VRING_CALL] = "SET_VRING_CALL",
		[VU_SET_VRING_ERR] = "SET_VRING_ERR",
		[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VU_GET_CONFIG] = "GET_CONFIG",
		[VU_SET_CONFIG] = "SET_CONFIG",
		[VU_RESET_DEVICE] = "RESET_DEVICE",
		[VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
		[VU_ADD_MEM_REG] = "ADD_MEM_REG",
		[VU_REM_MEM_REG] = "REM_MEM_REG",
		[VU_SET_STATUS] = "SET_STATUS",
		[VU_GET_STATUS] = "GET_STATUS",
	};
	if (request < sizeof(names) / sizeof(names[0]) && names[request])
		return names[request];
	return "unknown";
}

void vu_msg_close_fds(struct vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds && i < VU_MAX_FDS; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* ---- reading ---- */

/* Reads exactly len bytes; the first read also collects fds. Returns len,
 * 0 on EOF before any byte, or -errno / -EPROTO. */
static long read_full(int sock, void *buf, size_t len, struct vu_msg *fds_into, char *why,
		      size_t whylen)
{
	size_t got = 0;
	while (got < len) {
		union {
			char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { (char *)buf + got, len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (fds_into) {
			mh.msg_control = ctl.buf;
			mh.msg_controllen = sizeof(ctl.buf);
		}
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			fail(why, whylen, "read failed: %s", strerror(err));
			return -err;
		}
		for (struct cmsghdr *c = fds_into ? CMSG_FIRSTHDR(&mh) : NULL; c;
		     c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfd; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (fds_into->nfds < VU_MAX_FDS)
					fds_into->fds[fds_into->nfds++] = fd;
				else
					close(fd);
			}
		}
		if (fds_into && (mh.msg_flags & MSG_CTRUNC))
			return fail(why, whylen, "more than %d file descriptors", VU_MAX_FDS);
		if (n == 0)
			return got ? fail(why, whylen, "message cut short") : 0;
		got += (size_t)n;
		fds_into = NULL; /* fds arrive with the first bytes of a message */
	}
	return (long)len;
}

int vu_msg_recv(int sock, struct vu_msg *m, char *why, size_t whylen)
{
	m->nfds = 0;
	long n = read_full(sock, &m->hdr, VU_HDR_SIZE, m, why, whylen);
	if (n > 0 && m->hdr.size > VU_MAX_PAYLOAD) {
		n = fail(why, whylen, "%s: payload of %u bytes is too large",
			 vu_request_name(m->hdr.request), m->hdr.size);
	} else if (n > 0 && m->hdr.size) {
		n = read_full(sock, m->p.raw, m->hdr.size, NULL, why, whylen);
		if (n == 0)
			n = fail(why, whylen, "message cut short");
	}
	if (n <= 0) {
		vu_msg_close_fds(m);
		return (int)n;
	}
	return 1;
}

long vu_msg_parse(const uint8_t *buf, size_t len, struct vu_msg *m, char *why, size_t whylen)
{
	if (len < VU_HDR_SIZE)
		return 0;
	memcpy(&m->hdr, buf, VU_HDR_SIZE);
	if (m->hdr.size > VU_MAX_PAYLOAD)
		return fail(why, whylen, "%s: payload of %u bytes is too large",
			    vu_request_name(m->hdr.request), m->hdr.size);
	if (len - VU_HDR_SIZE < m->hdr.size)
		return 0;
	memcpy(m->p.raw, buf + VU_HDR_SIZE, m->hdr.size);
	return (long)(VU_HDR_SIZE + m->hdr.size);
}

/* ---- checking ---- */

bool vu_region_valid(const struct vu_mem_region *r)
{
	return r->size && r->gpa + r->size > r->gpa && r->uva + r->size > r->uva &&
	       r->mmap_offset + r->size > r->mmap_offset;
}

static bool ranges_overlap(uint64_t a, uint64_t b, uint64_t size_a, uint64_t size_b)
{
	/* Both ends are known not to overflow (vu_region_valid). */
	return a < b + size_b && b < a + size_a;
}

bool vu_regions_overlap(const struct vu_mem_region *a, const struct vu_mem_region *b)
{
	return ranges_overlap(a->gpa, b->gpa, a->size, b->size) ||
	       ranges_overlap(a->uva, b->uva, a->size, b->size);
}

enum payload { P_NONE, P_U64, P_STATE, P_ADDR, P_MEM, P_REG, P_CONFIG, P_FD_U64 };

struct rule {
	enum payload payload;
	bool ring;           /* carries a queue index */
};

static bool rule_of(uint32_t req, struct rule *r)
{
	switch (req) {
	case VU_GET_FEATURES: case VU_SET_OWNER: case VU_RESET_OWNER:
	case VU_GET_PROTOCOL_FEATURES: case VU_GET_QUEUE_NUM: case VU_RESET_DEVICE:
	case VU_GET_MAX_MEM_SLOTS: case VU_GET_STATUS:
		*r = (struct rule){ P_NONE, false };
		return true;
	case VU_SET_FEATURES: case VU_SET_PROTOCOL_FEATURES: case VU_SET_STATUS:
		*r = (struct rule){ P_U64, false };
		return true;
	case VU_SET_VRING_NUM: case VU_SET_VRING_BASE: case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		*r = (struct rule){ P_STATE, true };
		return true;
	case VU_SET_VRING_ADDR:
		*r = (struct rule){ P_ADDR, true };
		return true;
	case VU_SET_VRING_KICK: case VU_SET_VRING_CALL: case VU_SET_VRING_ERR:
		*r = (struct rule){ P_FD_U64, true };
		return true;
	case VU_SET_MEM_TABLE:
		*r = (struct rule){ P_MEM, false };
		return true;
	case VU_ADD_MEM_REG: case VU_REM_MEM_REG:
		*r = (struct rule){ P_REG, false };
		return true;
	case VU_GET_CONFIG: case VU_SET_CONFIG:
		*r = (struct rule){ P_CONFIG, false };
		return true;
	default:
		return false;
	}
}

static int check_mem_table(const struct vu_msg *m, const char *name, char *why, size_t whylen)
{
	uint32_t n = m->p.mem.nregions;
	if (m->hdr.size < VU_MEM_TABLE_HDR_SIZE)
		return fail(why, whylen, "%s: payload of %u bytes is too small", name, m->hdr.size);
	if (n > VU_MAX_MEM_REGIONS)
		return fail(why, whylen, "%s: %u regions (at most %d)", name, n, VU_MAX_MEM_REGIONS);
	if (m->hdr.size != VU_MEM_TABLE_HDR_SIZE + n * sizeof(struct vu_mem_region))
		return fail(why, whylen, "%s: payload of %u bytes for %u regions", name,
			    m->hdr.size, n);
	if (m->nfds != n)
		return fail(why, whylen, "%s: %u file descriptors for %u regions", name, m->nfds, n);
	for (uint32_t i = 0; i < n; i++) {
		if (!vu_region_valid(&m->p.mem.region[i]))
			return fail(why, whylen, "%s: region %u is empty or wraps around", name, i);
		for (uint32_t j = 0; j < i; j++)
			if (vu_regions_overlap(&m->p.mem.region[i], &m->p.mem.region[j]))
				return fail(why, whylen, "%s: regions %u and %u overlap", name, j, i);
	}
	return 0;
}

static unsigned payload_size(enum payload p)
{
	switch (p) {
	case P_NONE:
		return 0;
	case P_U64:
	case P_FD_U64:
	case P_STATE:
		return 8;
	case P_ADDR:
	case P_REG:
		return 40;
	default:
		return 0;
	}
}

static int check_payload(const struct vu_msg *m, const struct rule *r, const char *name,
			 char *why, size_t whylen)
{
	if (r->payload == P_MEM)
		return check_mem_table(m, name, why, whylen);
	if (r->payload == P_CONFIG) {
		if (m->hdr.size < VU_CONFIG_HDR_SIZE)
			return fail(why, whylen, "%s: payload of %u bytes is too small", name,
				    m->hdr.size);
		if (m->p.config.size > VU_MAX_CONFIG ||
		    m->hdr.size != VU_CONFIG_HDR_SIZE + m->p.config.size)
			return fail(why, whylen, "%s: %u config bytes in a %u-byte payload", name,
				    m->p.config.size, m->hdr.size);
		if (m->p.config.offset > VU_MAX_CONFIG - m->p.config.size)
			return fail(why, whylen, "%s: offset %u + size %u beyond %d bytes", name,
				    m->p.config.offset, m->p.config.size, VU_MAX_CONFIG);
		return 0;
	}
	/* GET_VRING_BASE's state is a request field; QEMU sends it whole. */
	if (m->hdr.size != payload_size(r->payload))
		return fail(why, whylen, "%s: payload of %u bytes, expected %u", name, m->hdr.size,
			    payload_size(r->payload));
	if (r->payload == P_REG && !vu_region_valid(&m->p.reg.region))
		return fail(why, whylen, "%s: the region is empty or wraps around", name);
	return 0;
}

static unsigned fds_expected(const struct vu_msg *m, const struct rule *r, bool *or_none)
{
	*or_none = false;
	switch (r->payload) {
	case P_FD_U64:
		return (m->p.u64 & VU_VRING_NOFD) ? 0 : 1;
	case P_MEM:
		return m->p.mem.nregions;
	case P_REG:
		/* QEMU sends the region's fd with REM_MEM_REG too; it is optional. */
		*or_none = m->hdr.request == VU_REM_MEM_REG;
		return 1;
	default:
		return 0;
	}
}

static int check_ring(const struct vu_msg *m, const struct rule *r, unsigned nr_queues,
		      const char *name, char *why, size_t whylen)
{
	uint64_t idx;
	if (r->payload == P_FD_U64) {
		if (m->p.u64 & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD))
			return fail(why, whylen, "%s: unknown bits in %#llx", name,
				    (unsigned long long)m->p.u64);
		idx = m->p.u64 & VU_VRING_IDX_MASK;
	} else if (r->payload == P_ADDR) {
		idx = m->p.addr.index;
	} else {
		idx = m->p.state.index;
	}
	if (idx >= nr_queues)
		return fail(why, whylen, "%s: queue %llu (the device has %u)", name,
			    (unsigned long long)idx, nr_queues);
	return 0;
}

int vu_msg_check(const struct vu_msg *m, unsigned nr_queues, char *why, size_t whylen)
{
	const char *name = vu_request_name(m->hdr.request);
	struct rule r;
	if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		return fail(why, whylen, "%s: protocol version %u", name,
			    m->hdr.flags & VU_FLAG_VERSION_MASK);
	if (m->hdr.flags & VU_FLAG_REPLY)
		return fail(why, whylen, "%s: a reply where a request was due", name);
	if (m->hdr.size > VU_MAX_PAYLOAD)
		return fail(why, whylen, "%s: payload of %u bytes is too large", name, m->hdr.size);
	if (!rule_of(m->hdr.request, &r))
		return fail(why, whylen, "request %u (%s) is not supported", m->hdr.request, name);
	int err = check_payload(m, &r, name, why, whylen);
	if (err)
		return err;
	bool or_none;
	unsigned want = fds_expected(m, &r, &or_none);
	if (m->nfds != want && !(or_none && m->nfds == 0))
		return fail(why, whylen, "%s: %u file descriptors, expected %u", name, m->nfds, want);
	return r.ring ? check_ring(m, &r, nr_queues, name, why, whylen) : 0;
}
