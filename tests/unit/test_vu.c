/* vhost-user backend: the message checks against hostile messages (sizes,
 * fd counts, queue indices, region overflow and overlap, oversize and
 * truncated reads), then a frontend played over a socketpair: the whole
 * handshake, guest memory from a memfd, a split ring driving a real
 * virtio-blk device (read and write through to the image file), and the
 * connection ending on a malformed message. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"
#include "vhost/vu_backend.h"
#include "vhost/vu_proto.h"
#include "virtio/blk.h"
#include "virtio/virtio_spec.h"

/* ---- the checks ---- */

static struct vu_msg msg(uint32_t req, uint32_t size)
{
	struct vu_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr = (struct vu_hdr){ req, VU_VERSION, size };
	return m;
}

static int check(const struct vu_msg *m)
{
	char why[160];
	return vu_msg_check(m, 2, why, sizeof(why));
}

static void test_check_sizes_and_flags(void **state)
{
	(void)state;
	struct vu_msg m = msg(VU_SET_FEATURES, 8);
	assert_int_equal(check(&m), 0);
	m.hdr.size = 4;
	assert_int_equal(check(&m), -EPROTO);
	m.hdr.size = 16;
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_GET_FEATURES, 0);
	assert_int_equal(check(&m), 0);
	m.hdr.flags = 2; /* version 2 */
	assert_int_equal(check(&m), -EPROTO);
	m.hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_GET_FEATURES, 8); /* a payload where none belongs */
	assert_int_equal(check(&m), -EPROTO);
	m = msg(200, 0);
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_GET_FEATURES, VU_MAX_PAYLOAD + 1);
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_SET_VRING_ADDR, 40);
	assert_int_equal(check(&m), 0);
	m.hdr.size = 32;
	assert_int_equal(check(&m), -EPROTO);
	/* a descriptor nobody expects */
	m = msg(VU_SET_OWNER, 0);
	m.nfds = 1;
	m.fds[0] = -1;
	assert_int_equal(check(&m), -EPROTO);
}

static void test_check_queue_index(void **state)
{
	(void)state;
	struct vu_msg m = msg(VU_SET_VRING_NUM, 8);
	m.p.state = (struct vu_vring_state){ 1, 64 };
	assert_int_equal(check(&m), 0);
	m.p.state.index = 2;
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_SET_VRING_ADDR, 40);
	m.p.addr.index = 0xffffffff;
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_SET_VRING_KICK, 8);
	m.p.u64 = 1 | VU_VRING_NOFD;
	assert_int_equal(check(&m), 0);
	m.p.u64 = 1; /* an fd is promised but none came */
	assert_int_equal(check(&m), -EPROTO);
	m.nfds = 1;
	assert_int_equal(check(&m), 0);
	m.p.u64 = 2;
	assert_int_equal(check(&m), -EPROTO);
	m.p.u64 = 1ULL << 40 | 1; /* unknown bits */
	assert_int_equal(check(&m), -EPROTO);
}

static void set_table(struct vu_msg *m, unsigned n)
{
	*m = msg(VU_SET_MEM_TABLE, VU_MEM_TABLE_HDR_SIZE + 32 * n);
	m->p.mem.nregions = n;
	m->nfds = n;
	for (unsigned i = 0; i < n; i++) {
		m->fds[i] = -1;
		m->p.mem.region[i] = (struct vu_mem_region){
			.gpa = 0x100000ULL * i, .size = 0x100000, .uva = 0x7f0000000000ULL + 0x200000ULL * i,
		};
	}
}

static void test_check_regions(void **state)
{
	(void)state;
	struct vu_msg m;
	set_table(&m, 2);
	assert_int_equal(check(&m), 0);
	m.nfds = 1;
	assert_int_equal(check(&m), -EPROTO);
	set_table(&m, 2);
	m.hdr.size -= 8;
	assert_int_equal(check(&m), -EPROTO);
	set_table(&m, 8);
	assert_int_equal(check(&m), 0);
	set_table(&m, 8);
	m.p.mem.nregions = 9;
	m.hdr.size += 32; /* still fits the buffer check, not the region limit */
	assert_int_equal(check(&m), -EPROTO);
	set_table(&m, 2);
	m.p.mem.region[1].gpa = UINT64_MAX - 0x1000; /* gpa + size wraps */
	assert_int_equal(check(&m), -EPROTO);
	set_table(&m, 2);
	m.p.mem.region[1].uva = UINT64_MAX - 0xfffff;
	assert_int_equal(check(&m), -EPROTO);
	set_table(&m, 2);
	m.p.mem.region[0].mmap_offset = UINT64_MAX;
	assert_int_equal(check(&m), -EPROTO);
	set_table(&m, 2);
	m.p.mem.region[1].size = 0;
	assert_int_equal(check(&m), -EPROTO);
	set_table(&m, 2);
	m.p.mem.region[1].gpa = 0x80000; /* overlaps region 0 */
	assert_int_equal(check(&m), -EPROTO);
	set_table(&m, 2);
	m.p.mem.region[1].uva = m.p.mem.region[0].uva + 0x1000;
	assert_int_equal(check(&m), -EPROTO);

	m = msg(VU_ADD_MEM_REG, 40);
	m.p.reg.region = (struct vu_mem_region){ .gpa = 0, .size = 0x1000, .uva = 0x1000 };
	assert_int_equal(check(&m), -EPROTO); /* no fd */
	m.nfds = 1;
	m.fds[0] = -1;
	assert_int_equal(check(&m), 0);
	m.p.reg.region.size = UINT64_MAX;
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_REM_MEM_REG, 40);
	m.p.reg.region = (struct vu_mem_region){ .gpa = 0, .size = 0x1000, .uva = 0x1000 };
	assert_int_equal(check(&m), 0); /* with or without the fd */
}

static void test_check_config(void **state)
{
	(void)state;
	struct vu_msg m = msg(VU_GET_CONFIG, VU_CONFIG_HDR_SIZE + 60);
	m.p.config.size = 60;
	assert_int_equal(check(&m), 0);
	m.p.config.size = 61;
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_GET_CONFIG, VU_CONFIG_HDR_SIZE + 256);
	m.p.config.size = 256;
	m.p.config.offset = 1;
	assert_int_equal(check(&m), -EPROTO);
	m.p.config.offset = 0xffffffff; /* offset + size wraps 32 bits */
	assert_int_equal(check(&m), -EPROTO);
	m = msg(VU_SET_CONFIG, 8);
	assert_int_equal(check(&m), -EPROTO);
}

static void test_parse_buffer(void **state)
{
	(void)state;
	uint8_t buf[64] = { 0 };
	struct vu_msg m;
	char why[160];
	struct vu_hdr h = { VU_SET_FEATURES, VU_VERSION, 8 };
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(vu_msg_parse(buf, 11, &m, why, sizeof(why)), 0);
	assert_int_equal(vu_msg_parse(buf, 19, &m, why, sizeof(why)), 0);
	assert_int_equal(vu_msg_parse(buf, 20, &m, why, sizeof(why)), 20);
	h.size = 100000;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(vu_msg_parse(buf, sizeof(buf), &m, why, sizeof(why)), -EPROTO);
}

/* ---- reading from a socket ---- */

static int send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return (int)sendmsg(sock, &mh, MSG_NOSIGNAL);
}

static void test_recv_hostile(void **state)
{
	(void)state;
	int sv[2];
	struct vu_msg m;
	char why[160];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

	/* an oversize payload with an fd: refused, the fd does not leak */
	struct vu_hdr h = { VU_SET_FEATURES, VU_VERSION, 1u << 20 };
	int efd = eventfd(0, 0);
	assert_true(send_raw(sv[1], &h, sizeof(h), &efd, 1) > 0);
	assert_int_equal(vu_msg_recv(sv[0], &m, why, sizeof(why)), -EPROTO);
	assert_int_equal(m.nfds, 0);
	close(efd);

	/* more fds than a message may carry */
	int many[10];
	for (int i = 0; i < 10; i++)
		many[i] = eventfd(0, 0);
	h = (struct vu_hdr){ VU_GET_FEATURES, VU_VERSION, 0 };
	assert_true(send_raw(sv[1], &h, sizeof(h), many, 10) > 0);
	assert_int_equal(vu_msg_recv(sv[0], &m, why, sizeof(why)), -EPROTO);
	for (int i = 0; i < 10; i++)
		close(many[i]);

	/* a good one, then a message cut short by the peer going away */
	uint8_t good[20] = { 0 };
	h = (struct vu_hdr){ VU_SET_FEATURES, VU_VERSION, 8 };
	memcpy(good, &h, sizeof(h));
	assert_int_equal(send_raw(sv[1], good, sizeof(good), NULL, 0), 20);
	assert_int_equal(vu_msg_recv(sv[0], &m, why, sizeof(why)), 1);
	assert_int_equal(m.hdr.request, VU_SET_FEATURES);
	assert_int_equal(send_raw(sv[1], good, 15, NULL, 0), 15);
	close(sv[1]);
	assert_int_equal(vu_msg_recv(sv[0], &m, why, sizeof(why)), -EPROTO);
	assert_int_equal(vu_msg_recv(sv[0], &m, why, sizeof(why)), 0); /* clean EOF */
	close(sv[0]);
}

/* ---- a frontend over a socketpair ---- */

#define RAM_GPA   0x100000ULL
#define RAM_UVA   0x7e0000000000ULL /* the "frontend's" address: never dereferenced */
#define RAM_SIZE  0x100000ULL
#define QSZ       8
#define OFF_DESC  0x0000
#define OFF_AVAIL 0x1000
#define OFF_USED  0x2000
#define OFF_HDR   0x3000
#define OFF_DATA  0x4000
#define OFF_STAT  0x5000
#define IMG_SIZE  (64 * 1024)

struct fe {
	int sock;               /* the frontend's end */
	int bsock;              /* the backend's end */
	int memfd;
	uint8_t *ram;
	int kick, call;
	char path[64];
	struct virtio_blk *blk;
	struct vu_backend *vu;
	pthread_t thread;
	int served;             /* vu_backend_serve's result */
	uint16_t avail_idx;
};

static void *serve_thread(void *arg)
{
	struct fe *f = arg;
	f->served = vu_backend_serve(f->vu, f->bsock);
	shutdown(f->bsock, SHUT_RDWR); /* what the caller of serve does: close */
	return NULL;
}

static uint8_t img_byte(size_t i)
{
	return (uint8_t)(i * 13 + 5);
}

static void fe_start(struct fe *f, bool readonly)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/alioth-test-vu-XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	uint8_t *img = malloc(IMG_SIZE);
	for (size_t i = 0; i < IMG_SIZE; i++)
		img[i] = img_byte(i);
	assert_int_equal(write(fd, img, IMG_SIZE), IMG_SIZE);
	free(img);
	close(fd);
	const struct virtio_blk_params p = { .path = f->path, .readonly = readonly };
	char err[256];
	assert_int_equal(virtio_blk_create(&p, &f->blk, err, sizeof(err)), 0);
	const struct vu_backend_opts opts = { .nr_queues = 1 };
	f->vu = vu_backend_create(&virtio_blk_ops, f->blk, &opts);
	assert_non_null(f->vu);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[1];
	f->bsock = sv[0];
	assert_int_equal(pthread_create(&f->thread, NULL, serve_thread, f), 0);
	f->memfd = memfd_create("vu-test-ram", MFD_CLOEXEC);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, RAM_SIZE), 0);
	f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->ram != MAP_FAILED);
	f->kick = eventfd(0, EFD_CLOEXEC);
	f->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* Ends the connection and the backend; returns what serve returned. */
static int fe_stop(struct fe *f)
{
	shutdown(f->sock, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->sock);
	close(f->bsock);
	vu_backend_destroy(f->vu); /* destroys the device too */
	munmap(f->ram, RAM_SIZE);
	close(f->memfd);
	close(f->kick);
	close(f->call);
	unlink(f->path);
	return f->served;
}

static void send_msg(struct fe *f, uint32_t req, uint32_t flags, const void *payload,
		     uint32_t size, const int *fds, unsigned nfds)
{
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	struct vu_hdr h = { req, VU_VERSION | flags, size };
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + VU_HDR_SIZE, payload, size);
	assert_int_equal(send_raw(f->sock, buf, VU_HDR_SIZE + size, fds, nfds),
			 (int)(VU_HDR_SIZE + size));
}

/* Reads one reply; returns its payload size (or -1 on EOF). */
static int recv_reply(struct fe *f, uint32_t req, void *payload, size_t max)
{
	struct vu_hdr h;
	struct pollfd p = { .fd = f->sock, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	ssize_t n = recv(f->sock, &h, sizeof(h), MSG_WAITALL);
	if (n == 0)
		return -1;
	assert_int_equal(n, sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_true(h.size <= max);
	if (h.size)
		assert_int_equal(recv(f->sock, payload, h.size, MSG_WAITALL), (ssize_t)h.size);
	return (int)h.size;
}

static uint64_t get_u64(struct fe *f, uint32_t req)
{
	uint64_t v = 0;
	send_msg(f, req, 0, NULL, 0, NULL, 0);
	assert_int_equal(recv_reply(f, req, &v, sizeof(v)), 8);
	return v;
}

static uint64_t acked(struct fe *f, uint32_t req, const void *payload, uint32_t size,
		      const int *fds, unsigned nfds)
{
	uint64_t ack = 99;
	send_msg(f, req, VU_FLAG_NEED_REPLY, payload, size, fds, nfds);
	assert_int_equal(recv_reply(f, req, &ack, sizeof(ack)), 8);
	return ack;
}

static const uint64_t proto_wanted =
	1ULL << VU_PROTO_MQ | 1ULL << VU_PROTO_REPLY_ACK | 1ULL << VU_PROTO_CONFIG |
	1ULL << VU_PROTO_STATUS | 1ULL << VU_PROTO_CONFIGURE_MEM_SLOTS;

static void handshake(struct fe *f)
{
	uint64_t features = get_u64(f, VU_GET_FEATURES);
	assert_true(features >> VHOST_USER_F_PROTOCOL_FEATURES & 1);
	assert_true(features >> VIRTIO_F_VERSION_1 & 1);
	assert_true(features >> VIRTIO_BLK_F_FLUSH & 1);
	uint64_t proto = get_u64(f, VU_GET_PROTOCOL_FEATURES);
	assert_int_equal(proto & proto_wanted, proto_wanted);
	assert_false(proto >> VU_PROTO_LOG_SHMFD & 1);
	send_msg(f, VU_SET_PROTOCOL_FEATURES, 0, &proto_wanted, 8, NULL, 0);
	assert_int_equal(get_u64(f, VU_GET_QUEUE_NUM), 1);
	assert_int_equal(get_u64(f, VU_GET_MAX_MEM_SLOTS), 8);
	assert_int_equal(acked(f, VU_SET_OWNER, NULL, 0, NULL, 0), 0);

	/* the device configuration: capacity in sectors */
	struct vu_config cfg = { .offset = 0, .size = VIRTIO_BLK_CFG_SIZE };
	send_msg(f, VU_GET_CONFIG, 0, &cfg, VU_CONFIG_HDR_SIZE + cfg.size, NULL, 0);
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(recv_reply(f, VU_GET_CONFIG, &cfg, sizeof(cfg)),
			 VU_CONFIG_HDR_SIZE + VIRTIO_BLK_CFG_SIZE);
	uint64_t capacity;
	memcpy(&capacity, cfg.data + VIRTIO_BLK_CFG_CAPACITY, 8);
	assert_int_equal(capacity, IMG_SIZE / 512);

	uint64_t use = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES) |
		       (1ULL << VIRTIO_BLK_F_FLUSH);
	assert_int_equal(acked(f, VU_SET_FEATURES, &use, 8, NULL, 0), 0);

	struct vu_mem_table t = { .nregions = 1 };
	t.region[0] = (struct vu_mem_region){ RAM_GPA, RAM_SIZE, RAM_UVA, 0 };
	assert_int_equal(acked(f, VU_SET_MEM_TABLE, &t, VU_MEM_TABLE_HDR_SIZE + 32, &f->memfd, 1), 0);
}

static void setup_ring(struct fe *f, uint64_t desc_uva)
{
	struct vu_vring_state st = { 0, QSZ };
	assert_int_equal(acked(f, VU_SET_VRING_NUM, &st, 8, NULL, 0), 0);
	st.num = 0;
	assert_int_equal(acked(f, VU_SET_VRING_BASE, &st, 8, NULL, 0), 0);
	struct vu_vring_addr a = {
		.index = 0, .desc = desc_uva, .avail = RAM_UVA + OFF_AVAIL, .used = RAM_UVA + OFF_USED,
	};
	assert_int_equal(acked(f, VU_SET_VRING_ADDR, &a, 40, NULL, 0), 0);
	uint64_t idx = 0;
	assert_int_equal(acked(f, VU_SET_VRING_KICK, &idx, 8, &f->kick, 1), 0);
	assert_int_equal(acked(f, VU_SET_VRING_CALL, &idx, 8, &f->call, 1), 0);
}

static void put_desc(struct fe *f, unsigned i, uint64_t off, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = f->ram + OFF_DESC + 16 * i;
	uint64_t gpa = RAM_GPA + off;
	memcpy(d, &gpa, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* One request of `type` on sector 1 with 512 data bytes; returns the used
 * length after the call eventfd fired. */
static uint32_t blk_request(struct fe *f, uint32_t type)
{
	uint8_t hdr[16] = { 0 };
	uint64_t sector = 1;
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	memcpy(f->ram + OFF_HDR, hdr, 16);
	f->ram[OFF_STAT] = 0xee;
	put_desc(f, 0, OFF_HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, 1, OFF_DATA, 512,
		 VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0), 2);
	put_desc(f, 2, OFF_STAT, 1, VIRTQ_DESC_F_WRITE, 0);
	uint16_t head = 0;
	memcpy(f->ram + OFF_AVAIL + 4 + 2 * (f->avail_idx % QSZ), &head, 2);
	f->avail_idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(f->ram + OFF_AVAIL + 2, &f->avail_idx, 2);
	uint64_t one = 1;
	assert_int_equal(write(f->kick, &one, 8), 8);
	struct pollfd p = { .fd = f->call, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	uint64_t n;
	assert_int_equal(read(f->call, &n, 8), 8);
	uint16_t used_idx;
	memcpy(&used_idx, f->ram + OFF_USED + 2, 2);
	assert_int_equal(used_idx, f->avail_idx);
	uint32_t id, len;
	const uint8_t *e = f->ram + OFF_USED + 4 + 8 * ((used_idx - 1) % QSZ);
	memcpy(&id, e, 4);
	memcpy(&len, e + 4, 4);
	assert_int_equal(id, 0);
	return len;
}

static void test_handshake_and_blk_io(void **state)
{
	(void)state;
	struct fe f;
	fe_start(&f, false);
	handshake(&f);
	setup_ring(&f, RAM_UVA + OFF_DESC);
	/* Rings start disabled once protocol features are negotiated. */
	struct vu_vring_state en = { 0, 1 };
	assert_int_equal(acked(&f, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);

	/* read sector 1 */
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_IN), 513);
	assert_int_equal(f.ram[OFF_STAT], VIRTIO_BLK_S_OK);
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(f.ram[OFF_DATA + i], img_byte(512 + i));

	/* write sector 1, then see it in the file */
	for (size_t i = 0; i < 512; i++)
		f.ram[OFF_DATA + i] = (uint8_t)(0xa5 ^ i);
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_OUT), 1);
	assert_int_equal(f.ram[OFF_STAT], VIRTIO_BLK_S_OK);
	uint8_t back[512];
	int fd = open(f.path, O_RDONLY);
	assert_int_equal(pread(fd, back, 512, 512), 512);
	close(fd);
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(back[i], (uint8_t)(0xa5 ^ i));

	/* status round trip */
	uint64_t status = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
	send_msg(&f, VU_SET_STATUS, 0, &status, 8, NULL, 0);
	assert_int_equal(get_u64(&f, VU_GET_STATUS), status);

	/* stopping the ring reports where the device stopped */
	struct vu_vring_state st = { 0, 0 };
	send_msg(&f, VU_GET_VRING_BASE, 0, &st, 8, NULL, 0);
	assert_int_equal(recv_reply(&f, VU_GET_VRING_BASE, &st, sizeof(st)), 8);
	assert_int_equal(st.index, 0);
	assert_int_equal(st.num, 2);

	/* a hostile message ends the connection, not the process */
	st = (struct vu_vring_state){ 5, 8 };
	send_msg(&f, VU_SET_VRING_NUM, 0, &st, 8, NULL, 0);
	uint64_t dummy;
	assert_int_equal(recv_reply(&f, VU_SET_VRING_NUM, &dummy, sizeof(dummy)), -1);
	assert_int_equal(fe_stop(&f), -EPROTO);
}

static void test_readonly_refuses_writes(void **state)
{
	(void)state;
	struct fe f;
	fe_start(&f, true);
	uint64_t features = get_u64(&f, VU_GET_FEATURES);
	assert_true(features >> VIRTIO_BLK_F_RO & 1);
	handshake(&f);
	setup_ring(&f, RAM_UVA + OFF_DESC);
	struct vu_vring_state en = { 0, 1 };
	assert_int_equal(acked(&f, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);
	memset(f.ram + OFF_DATA, 0x77, 512);
	blk_request(&f, VIRTIO_BLK_T_OUT);
	assert_int_equal(f.ram[OFF_STAT], VIRTIO_BLK_S_IOERR);
	uint8_t back[512];
	int fd = open(f.path, O_RDONLY);
	assert_int_equal(pread(fd, back, 512, 512), 512);
	close(fd);
	assert_int_equal(back[0], img_byte(512));
	assert_int_equal(fe_stop(&f), 0);
}

static void test_bad_ring_and_memory_fail_softly(void **state)
{
	(void)state;
	struct fe f;
	fe_start(&f, false);
	handshake(&f);
	/* a descriptor table outside guest memory: enabling the ring fails */
	setup_ring(&f, RAM_UVA + RAM_SIZE + 0x1000);
	struct vu_vring_state en = { 0, 1 };
	assert_int_not_equal(acked(&f, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);
	/* a memory fd smaller than the region it claims to hold */
	int small = memfd_create("small", MFD_CLOEXEC);
	assert_int_equal(ftruncate(small, 4096), 0);
	struct vu_mem_single reg = { 0, { 0x10000000, 0x100000, 0x7f0000000000ULL, 0 } };
	assert_int_not_equal(acked(&f, VU_ADD_MEM_REG, &reg, 40, &small, 1), 0);
	close(small);
	/* a region that overlaps one already mapped ends the connection */
	reg.region = (struct vu_mem_region){ RAM_GPA + 0x1000, 0x1000, 0x10000, 0 };
	send_msg(&f, VU_ADD_MEM_REG, VU_FLAG_NEED_REPLY, &reg, 40, &f.memfd, 1);
	uint64_t dummy;
	assert_int_equal(recv_reply(&f, VU_ADD_MEM_REG, &dummy, sizeof(dummy)), -1);
	assert_int_equal(fe_stop(&f), -EPROTO);
}

/* QEMU 7.2's multi-queue net adds the same region once per queue pair: it
 * stays mapped until the last of as many removals. */
static void test_repeated_region_is_counted(void **state)
{
	(void)state;
	struct fe f;
	fe_start(&f, false);
	handshake(&f);
	setup_ring(&f, RAM_UVA + OFF_DESC);
	struct vu_vring_state en = { 0, 1 };
	assert_int_equal(acked(&f, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);
	struct vu_mem_single reg = { 0, { RAM_GPA, RAM_SIZE, RAM_UVA, 0 } };
	assert_int_equal(acked(&f, VU_ADD_MEM_REG, &reg, 40, &f.memfd, 1), 0);
	assert_int_equal(acked(&f, VU_REM_MEM_REG, &reg, 40, NULL, 0), 0);
	/* one removal of two: the ring still reaches guest memory */
	assert_int_equal(blk_request(&f, VIRTIO_BLK_T_IN), 513);
	assert_int_equal(f.ram[OFF_STAT], VIRTIO_BLK_S_OK);
	en.num = 0; /* the ring lets go of the memory first */
	assert_int_equal(acked(&f, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);
	assert_int_equal(acked(&f, VU_REM_MEM_REG, &reg, 40, NULL, 0), 0);
	/* now it is gone */
	assert_int_not_equal(acked(&f, VU_REM_MEM_REG, &reg, 40, NULL, 0), 0);
	assert_int_equal(fe_stop(&f), 0);
}

static void test_unoffered_and_unsupported(void **state)
{
	(void)state;
	struct fe f;
	fe_start(&f, false);
	/* CONFIG before protocol features were agreed */
	struct vu_config cfg = { .offset = 0, .size = 8 };
	send_msg(&f, VU_GET_CONFIG, 0, &cfg, VU_CONFIG_HDR_SIZE + 8, NULL, 0);
	uint64_t dummy;
	assert_int_equal(recv_reply(&f, VU_GET_CONFIG, &dummy, sizeof(dummy)), -1);
	assert_int_equal(fe_stop(&f), -EPROTO);

	fe_start(&f, false);
	uint8_t logbuf[16] = { 0 };
	send_msg(&f, VU_SET_LOG_BASE, 0, logbuf, 16, NULL, 0);
	assert_int_equal(recv_reply(&f, VU_SET_LOG_BASE, &dummy, sizeof(dummy)), -1);
	assert_int_equal(fe_stop(&f), -EPROTO);

	fe_start(&f, false);
	uint64_t bogus = 1ULL << 63;
	send_msg(&f, VU_SET_FEATURES, 0, &bogus, 8, NULL, 0);
	assert_int_equal(recv_reply(&f, VU_SET_FEATURES, &dummy, sizeof(dummy)), -1);
	assert_int_equal(fe_stop(&f), -EPROTO);
}

int main(void)
{
	if (getenv("VU_TEST_DEBUG"))
		log_init(LOG_DEBUG, NULL, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_sizes_and_flags),
		cmocka_unit_test(test_check_queue_index),
		cmocka_unit_test(test_check_regions),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_parse_buffer),
		cmocka_unit_test(test_recv_hostile),
		cmocka_unit_test(test_handshake_and_blk_io),
		cmocka_unit_test(test_readonly_refuses_writes),
		cmocka_unit_test(test_bad_ring_and_memory_fail_softly),
		cmocka_unit_test(test_repeated_region_is_counted),
		cmocka_unit_test(test_unoffered_and_unsupported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
