/* vhost-user frontend: the messages it sends (recorded by a scripted peer
 * over a socketpair, each one also passing the backend's structural
 * checks), its failures when the backend is missing, refuses or breaks the
 * protocol, and the whole set-up against our own backend serving a
 * virtio-blk image. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem/guest_mem.h"
#include "util/log.h"
#include "vhost/vu_backend.h"
#include "vhost/vu_frontend.h"
#include "vhost/vu_proto.h"
#include "virtio/blk.h"
#include "virtio/virtio_spec.h"

#define NQ          2
#define MAX_SEEN    64
#define RAM_SIZE    (4u << 20)
#define PEER_FEATURES (1ULL << VIRTIO_F_VERSION_1 | 1ULL << VHOST_USER_F_PROTOCOL_FEATURES | \
		       1ULL << VIRTIO_F_RING_PACKED | 1ULL << 6)
#define PEER_PROTOCOL (VU_FRONTEND_NEEDED_PROTOCOL | 1ULL << VU_PROTO_STATUS)

/* ---- a scripted backend ---- */

struct seen {
	struct vu_hdr hdr;
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table mem;
	struct vu_config config;
	unsigned nfds;
};

struct peer {
	int sock;
	pthread_t thread;
	/* behaviour */
	uint64_t features, protocol;
	uint32_t close_at;    /* close the socket on this request */
	uint32_t nack;        /* ack this request with 1 */
	uint32_t misreply;    /* answer this request as another one */
	/* record */
	struct seen seen[MAX_SEEN];
	unsigned nseen;
	unsigned bad;         /* messages vu_msg_check refused */
};

static void reply(struct peer *p, const struct vu_msg *m, const void *payload, uint32_t size)
{
	uint32_t req = m->hdr.request == p->misreply ? VU_GET_STATUS : m->hdr.request;
	struct vu_hdr h = { req, VU_VERSION | VU_FLAG_REPLY, size };
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, size);
	assert_int_equal(send(p->sock, buf, sizeof(h) + size, MSG_NOSIGNAL), sizeof(h) + size);
}

static void answer(struct peer *p, struct vu_msg *m)
{
	uint64_t v = 0;
	struct vu_config cfg;
	switch (m->hdr.request) {
	case VU_GET_FEATURES:
		v = p->features;
		break;
	case VU_GET_PROTOCOL_FEATURES:
		v = p->protocol;
		break;
	case VU_GET_QUEUE_NUM:
		v = NQ;
		break;
	case VU_GET_VRING_BASE:
		reply(p, m, &m->p.state, sizeof(m->p.state));
		return;
	case VU_GET_CONFIG:
		cfg = m->p.config;
		for (uint32_t i = 0; i < cfg.size; i++)
			cfg.data[i] = (uint8_t)(0xA0 + i);
		reply(p, m, &cfg, m->hdr.size);
		return;
	default:
		if (!(m->hdr.flags & VU_FLAG_NEED_REPLY))
			return;
		v = m->hdr.request == p->nack;
		break;
	}
	reply(p, m, &v, sizeof(v));
}

static void *peer_thread(void *arg)
{
	struct peer *p = arg;
	struct vu_msg m;
	char why[160];
	while (vu_msg_recv(p->sock, &m, why, sizeof(why)) > 0) {
		if (vu_msg_check(&m, NQ, why, sizeof(why))) {
			fprintf(stderr, "peer: refused: %s\n", why);
			p->bad++;
		}
		if (p->nseen < MAX_SEEN) {
			struct seen *s = &p->seen[p->nseen++];
			s->hdr = m.hdr;
			s->nfds = m.nfds;
			memcpy(&s->u64, m.p.raw, sizeof(s->u64));
			memcpy(&s->state, m.p.raw, sizeof(s->state));
			memcpy(&s->addr, m.p.raw, sizeof(s->addr));
			memcpy(&s->mem, m.p.raw, sizeof(s->mem));
			memcpy(&s->config, m.p.raw, sizeof(s->config));
		}
		vu_msg_close_fds(&m);
		if (m.hdr.request == p->close_at)
			break;
		answer(p, &m);
	}
	shutdown(p->sock, SHUT_RDWR);
	return NULL;
}

static int peer_start(struct peer *p)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->sock = sv[0];
	if (!p->features)
		p->features = PEER_FEATURES;
	if (!p->protocol)
		p->protocol = PEER_PROTOCOL;
	assert_int_equal(pthread_create(&p->thread, NULL, peer_thread, p), 0);
	return sv[1];
}

static void peer_join(struct peer *p)
{
	pthread_join(p->thread, NULL);
	close(p->sock);
}

/* ---- guest memory from a memfd, in two regions ---- */

static void memfd_ram(struct guest_mem *gm)
{
	const struct mem_config cfg = { .size = RAM_SIZE, .backend = MEM_BACKEND_MEMFD };
	assert_int_equal(gm_alloc(gm, &cfg), 0);
	assert_int_equal(gm_add_region(gm, 0, 0, RAM_SIZE / 2), 0);
	assert_int_equal(gm_add_region(gm, 1ULL << 32, RAM_SIZE / 2, RAM_SIZE / 2), 0);
}

static struct vu_frontend *open_with(struct peer *p, struct guest_mem *gm, int *ret, char *err,
				     size_t errlen)
{
	struct vu_frontend *fe = NULL;
	*ret = vu_frontend_open(peer_start(p), "peer.sock", VU_FRONTEND_BLK, gm, &fe, err, errlen);
	return fe;
}

/* ---- what is sent ---- */

static void test_handshake_messages(void **state)
{
	(void)state;
	struct guest_mem gm;
	memfd_ram(&gm);
	struct peer p = { 0 };
	char err[256] = "";
	int ret;
	struct vu_frontend *fe = open_with(&p, &gm, &ret, err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_non_null(fe);
	assert_int_equal(vu_frontend_num_queues(fe), NQ);
	assert_int_equal(vu_frontend_backend_features(fe),
			 PEER_FEATURES & ~(1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
	const struct virtio_dev_ops *ops = vu_frontend_ops(fe);
	assert_int_equal(ops->device_id, VU_FRONTEND_BLK);
	assert_int_equal(ops->num_queues, NQ);
	assert_int_equal(ops->config_size, VIRTIO_BLK_CFG_SIZE);

	/* config reads fetch the whole space from offset 0 and slice it */
	uint8_t cfg[4];
	assert_int_equal(vu_frontend_read_config(fe, 8, cfg, 4), 0);
	assert_int_equal(cfg[0], 0xA8);
	assert_int_equal(cfg[3], 0xAB);
	assert_int_equal(vu_frontend_read_config(fe, VIRTIO_BLK_CFG_SIZE - 2, cfg, 4), -EINVAL);
	vu_frontend_destroy(fe);
	peer_join(&p);

	static const uint32_t order[] = {
		VU_GET_FEATURES, VU_SET_OWNER, VU_GET_PROTOCOL_FEATURES, VU_SET_PROTOCOL_FEATURES,
		VU_GET_QUEUE_NUM, VU_GET_CONFIG, VU_SET_VRING_ERR, VU_SET_VRING_ERR,
		VU_SET_MEM_TABLE, VU_GET_CONFIG,
	};
	assert_int_equal(p.nseen, sizeof(order) / sizeof(order[0]));
	for (unsigned i = 0; i < p.nseen; i++)
		assert_int_equal(p.seen[i].hdr.request, order[i]);
	assert_int_equal(p.bad, 0);
	/* acks are asked for once REPLY_ACK is agreed, and only on requests
	 * without a reply of their own */
	for (unsigned i = 0; i < p.nseen; i++) {
		bool want = i > 3 && p.seen[i].hdr.request != VU_GET_QUEUE_NUM &&
			    p.seen[i].hdr.request != VU_GET_CONFIG;
		assert_int_equal(!!(p.seen[i].hdr.flags & VU_FLAG_NEED_REPLY), want);
	}
	/* STATUS was offered but is not taken */
	assert_int_equal(p.seen[3].u64, VU_FRONTEND_NEEDED_PROTOCOL);
	assert_int_equal(p.seen[5].config.offset, 0);
	assert_int_equal(p.seen[5].config.size, VIRTIO_BLK_CFG_SIZE);
	assert_int_equal(p.seen[6].u64, 0);
	assert_int_equal(p.seen[6].nfds, 1);
	assert_int_equal(p.seen[7].u64, 1);
	/* the memory table: our mappings of the memfd, one fd per region */
	const struct seen *mt = &p.seen[8];
	assert_int_equal(mt->nfds, 2);
	assert_int_equal(mt->mem.nregions, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(mt->mem.region[i].gpa, gm.region[i].gpa);
		assert_int_equal(mt->mem.region[i].size, RAM_SIZE / 2);
		assert_int_equal(mt->mem.region[i].uva, (uintptr_t)gm.region[i].host);
		assert_int_equal(mt->mem.region[i].mmap_offset, i * (RAM_SIZE / 2));
	}
	gm_free(&gm);
}

static void test_start_and_stop_rings(void **state)
{
	(void)state;
	struct guest_mem gm;
	memfd_ram(&gm);
	struct peer p = { 0 };
	char err[256];
	int ret;
	struct vu_frontend *fe = open_with(&p, &gm, &ret, err, sizeof(err));
	assert_int_equal(ret, 0);
	unsigned base = p.nseen;
	int kick = eventfd(0, EFD_CLOEXEC);
	struct vu_frontend_ring rings[NQ] = {
		{ 0 }, /* queue 0 off */
		{ .size = 128, .desc = 0x1000, .avail = 0x2000, .used = 0x3000, .kick_fd = kick,
		  .call_fd = -1 },
	};
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_RING_PACKED;
	assert_int_equal(vu_frontend_start(fe, features, rings, NQ), 0);
	assert_int_equal(vu_frontend_stop(fe), 0);
	assert_int_equal(vu_frontend_stop(fe), 0); /* nothing left to stop */
	vu_frontend_destroy(fe);
	peer_join(&p);
	close(kick);

	static const uint32_t order[] = {
		VU_SET_FEATURES, VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		VU_SET_VRING_CALL, VU_SET_VRING_KICK, VU_SET_VRING_ENABLE,
		VU_SET_VRING_ENABLE, VU_GET_VRING_BASE,
	};
	assert_int_equal(p.nseen - base, sizeof(order) / sizeof(order[0]));
	for (unsigned i = 0; i < p.nseen - base; i++)
		assert_int_equal(p.seen[base + i].hdr.request, order[i]);
	assert_int_equal(p.bad, 0);
	const struct seen *s = &p.seen[base];
	assert_int_equal(s[0].u64, features | 1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	assert_int_equal(s[1].state.index, 1);
	assert_int_equal(s[1].state.num, 128);
	assert_int_equal(s[2].state.num, 1u << 15 | 1u << 31); /* packed: wrap counters 1 */
	assert_int_equal(s[3].addr.index, 1);
	assert_int_equal(s[3].addr.desc, 0x1000);
	assert_int_equal(s[3].addr.avail, 0x2000);
	assert_int_equal(s[3].addr.used, 0x3000);
	assert_int_equal(s[3].addr.flags, 0);
	assert_int_equal(s[4].u64, 1 | VU_VRING_NOFD); /* no call fd */
	assert_int_equal(s[4].nfds, 0);
	assert_int_equal(s[5].u64, 1);
	assert_int_equal(s[5].nfds, 1);
	assert_int_equal(s[6].state.num, 1);
	assert_int_equal(s[7].state.num, 0);
	assert_int_equal(s[8].state.index, 1);
	gm_free(&gm);
}

/* ---- failures ---- */

static void test_missing_socket(void **state)
{
	(void)state;
	struct guest_mem gm;
	memfd_ram(&gm);
	struct vu_frontend *fe = (void *)1;
	char err[256];
	assert_int_equal(vu_frontend_connect("/nonexistent/vu.sock", VU_FRONTEND_BLK, &gm, &fe, err,
					     sizeof(err)),
			 -ENOENT);
	assert_null(fe);
	assert_string_equal(err, "vu-blk: cannot connect to the vhost-user backend at "
				 "/nonexistent/vu.sock: No such file or directory");
	gm_free(&gm);
}

static void test_anonymous_memory_refused(void **state)
{
	(void)state;
	static uint8_t ram[4096];
	struct guest_mem gm;
	gm_init_buffer(&gm, 0, ram, sizeof(ram));
	struct peer p = { 0 };
	char err[256];
	int ret;
	assert_null(open_with(&p, &gm, &ret, err, sizeof(err)));
	peer_join(&p);
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(err, "backend=memfd"));
	assert_int_equal(p.nseen, 0); /* refused before a word was sent */
}

/* Opens against a peer that misbehaves as set up; returns the error. */
static int open_failing(struct peer *p, char *err, size_t errlen)
{
	struct guest_mem gm;
	memfd_ram(&gm);
	int ret;
	assert_null(open_with(p, &gm, &ret, err, errlen));
	peer_join(p);
	gm_free(&gm);
	assert_int_equal(p->bad, 0);
	return ret;
}

static void test_backend_refusals(void **state)
{
	(void)state;
	char err[256];
	struct peer p = { .features = 1ULL << VIRTIO_F_VERSION_1 };
	assert_int_equal(open_failing(&p, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "PROTOCOL_FEATURES"));
	assert_non_null(strstr(err, "peer.sock"));

	p = (struct peer){ .protocol = 1ULL << VU_PROTO_MQ | 1ULL << VU_PROTO_REPLY_ACK };
	assert_int_equal(open_failing(&p, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "lacks protocol features 0x200"));

	p = (struct peer){ .nack = VU_SET_MEM_TABLE };
	assert_int_equal(open_failing(&p, err, sizeof(err)), -EIO);
	assert_string_equal(err, "vu-blk: vhost-user backend at peer.sock: SET_MEM_TABLE: refused "
				 "by the backend (1)");
}

static void test_backend_breaks_protocol(void **state)
{
	(void)state;
	char err[256];
	struct peer p = { .close_at = VU_GET_QUEUE_NUM };
	assert_int_equal(open_failing(&p, err, sizeof(err)), -EPIPE);
	assert_non_null(strstr(err, "GET_QUEUE_NUM: the socket was closed"));

	p = (struct peer){ .misreply = VU_GET_CONFIG };
	assert_int_equal(open_failing(&p, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "GET_CONFIG: bad reply"));
}

/* At run time: the end is noticed, later requests fail at once (and
 * writing to the closed socket raises no SIGPIPE). */
static void test_backend_gone_at_runtime(void **state)
{
	(void)state;
	struct guest_mem gm;
	memfd_ram(&gm);
	struct peer p = { .close_at = VU_SET_FEATURES };
	char err[256];
	int ret;
	struct vu_frontend *fe = open_with(&p, &gm, &ret, err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_true(vu_frontend_check_socket(fe)); /* nothing to read: alive */
	struct vu_frontend_ring ring = { 0 };
	assert_int_not_equal(vu_frontend_start(fe, 1ULL << VIRTIO_F_VERSION_1, &ring, 1), 0);
	peer_join(&p);
	assert_false(vu_frontend_alive(fe));
	assert_false(vu_frontend_check_socket(fe));
	assert_int_equal(vu_frontend_start(fe, 0, &ring, 1), -EPIPE);
	/* config reads still answer, with the bytes last fetched */
	uint8_t b;
	assert_int_equal(vu_frontend_read_config(fe, 1, &b, 1), -EPIPE);
	assert_int_equal(b, 0xA1);
	vu_frontend_destroy(fe);
	gm_free(&gm);

	/* the backend closing between requests is seen by check_socket */
	memfd_ram(&gm);
	p = (struct peer){ .close_at = VU_GET_CONFIG + 1000 };
	fe = open_with(&p, &gm, &ret, err, sizeof(err));
	assert_int_equal(ret, 0);
	shutdown(p.sock, SHUT_RDWR);
	peer_join(&p);
	assert_false(vu_frontend_check_socket(fe));
	assert_false(vu_frontend_alive(fe));
	vu_frontend_destroy(fe);
	gm_free(&gm);
}

/* ---- against our own backend ---- */

struct served {
	struct vu_backend *vu;
	int sock;
	int ret;
};

static void *serve(void *arg)
{
	struct served *s = arg;
	s->ret = vu_backend_serve(s->vu, s->sock);
	shutdown(s->sock, SHUT_RDWR);
	return NULL;
}

static void test_against_alioth_backend(void **state)
{
	(void)state;
	char path[] = "/tmp/alioth-test-vuf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 77 * 512), 0);
	close(fd);
	const struct virtio_blk_params bp = { .path = path };
	struct virtio_blk *blk;
	char err[256];
	assert_int_equal(virtio_blk_create(&bp, &blk, err, sizeof(err)), 0);
	struct served s = { .vu = vu_backend_create(&virtio_blk_ops, blk, NULL) };
	assert_non_null(s.vu);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s.sock = sv[0];
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, serve, &s), 0);

	struct guest_mem gm;
	memfd_ram(&gm);
	struct vu_frontend *fe;
	assert_int_equal(vu_frontend_open(sv[1], "alioth", VU_FRONTEND_BLK, &gm, &fe, err,
					  sizeof(err)),
			 0);
	uint64_t capacity = 0;
	assert_int_equal(vu_frontend_read_config(fe, 0, &capacity, 8), 0);
	assert_int_equal(capacity, 77);
	/* a split ring of 16 at the start of the second region */
	uint8_t *r = gm.region[1].host;
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);
	struct vu_frontend_ring ring = { .size = 16, .desc = (uintptr_t)r,
					 .avail = (uintptr_t)r + 4096,
					 .used = (uintptr_t)r + 8192, .kick_fd = kick, .call_fd = call };
	uint64_t f = vu_frontend_backend_features(fe) &
		     (1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX);
	assert_int_equal(vu_frontend_start(fe, f, &ring, 1), 0);
	assert_int_equal(vu_frontend_stop(fe), 0);
	/* a ring outside guest memory is refused (acked nonzero), not fatal */
	ring.desc = 8;
	ring.avail = 16;
	ring.used = 32;
	assert_int_equal(vu_frontend_start(fe, f, &ring, 1), -EIO);
	assert_true(vu_frontend_alive(fe));
	vu_frontend_destroy(fe);
	pthread_join(t, NULL);
	assert_int_equal(s.ret, 0);
	close(s.sock);
	vu_backend_destroy(s.vu);
	close(kick);
	close(call);
	gm_free(&gm);
	unlink(path);
}

int main(void)
{
	log_init(LOG_OFF, NULL, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_messages),
		cmocka_unit_test(test_start_and_stop_rings),
		cmocka_unit_test(test_missing_socket),
		cmocka_unit_test(test_anonymous_memory_refused),
		cmocka_unit_test(test_backend_refusals),
		cmocka_unit_test(test_backend_breaks_protocol),
		cmocka_unit_test(test_backend_gone_at_runtime),
		cmocka_unit_test(test_against_alioth_backend),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
