#include "net/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

struct tap {
	struct net_backend base;
	char ifname[IFNAMSIZ];
	int fd[TAP_MAX_PAIRS];
};

static struct tap *tap_of(struct net_backend *b)
{
	return (struct tap *)b;
}

unsigned tap_tun_flags(unsigned offloads)
{
	unsigned f = 0;

	if (offloads & NET_OFFLOAD_CSUM)
		f |= TUN_F_CSUM;
	/* TSO needs checksum offload: the kernel refuses TSO alone. */
	if ((offloads & NET_OFFLOAD_CSUM) && (offloads & NET_OFFLOAD_TSO4))
		f |= TUN_F_TSO4;
	if ((offloads & NET_OFFLOAD_CSUM) && (offloads & NET_OFFLOAD_TSO6))
		f |= TUN_F_TSO6;
	return f;
}

static int tap_rx_fd(struct net_backend *b, unsigned pair)
{
	return pair < b->pairs ? tap_of(b)->fd[pair] : -1;
}

static ssize_t tap_recv(struct net_backend *b, unsigned pair, const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	do
		n = readv(tap_of(b)->fd[pair], iov, iovcnt);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n < NET_HDR_LEN)
		return -EMSGSIZE;
	return n;
}

static int tap_send(struct net_backend *b, unsigned pair, const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	do
		n = writev(tap_of(b)->fd[pair], iov, iovcnt);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

/* Offloads belong to the interface, not to a queue: fd 0 sets them for all. */
static int tap_set_offload(struct net_backend *b, unsigned offloads)
{
	if (ioctl(tap_of(b)->fd[0], TUNSETOFFLOAD, (unsigned long)tap_tun_flags(offloads)) < 0)
		return -errno;
	return 0;
}

/* A detached queue gets no frames, so the kernel does not steer traffic to
 * a pair the guest does not use. macvtap queues cannot be detached one by
 * one the same way everywhere; an error there is logged, not fatal. */
static int tap_set_active_pairs(struct net_backend *b, unsigned n)
{
	struct tap *t = tap_of(b);
	int ret = 0;

	if (b->pairs < 2)
		return 0;
	for (unsigned i = 1; i < b->pairs; i++) {
		struct ifreq ifr = { .ifr_flags = i < n ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };
		if (ioctl(t->fd[i], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL) {
			ret = -errno;
			log_warn("tap %s: queue %u: TUNSETQUEUE: %s", t->ifname, i, strerror(errno));
		}
	}
	return ret;
}

static void tap_destroy(struct net_backend *b)
{
	struct tap *t = tap_of(b);

	if (!t)
		return;
	for (unsigned i = 0; i < TAP_MAX_PAIRS; i++)
		if (t->fd[i] >= 0)
			close(t->fd[i]);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.rx_fd = tap_rx_fd,
	.recv = tap_recv,
	.send = tap_send,
	.set_offload = tap_set_offload,
	.set_active_pairs = tap_set_active_pairs,
	.destroy = tap_destroy,
};

static int open_error(const struct tap_params *p, const char *dev, int e, char *err,
		      size_t errlen)
{
	if (e == ENOENT || e == ENODEV || e == ENXIO)
		snprintf(err, errlen, "net: %s: no such device%s", dev,
			 p->dev ? "" : " (is the tun module loaded?)");
	else if (e == EACCES || e == EPERM)
		snprintf(err, errlen, "net: %s: permission denied", dev);
	else
		snprintf(err, errlen, "net: %s: %s", dev, strerror(e));
	return -e;
}

static int setiff_error(const struct tap_params *p, int e, char *err, size_t errlen)
{
	const char *name = p->ifname ? p->ifname : "(new)";

	if (e == EPERM || e == EACCES)
		snprintf(err, errlen,
			 "net: interface %s: permission denied (needs CAP_NET_ADMIN, or a TAP "
			 "owned by this user)", name);
	else if (e == EBUSY)
		snprintf(err, errlen,
			 "net: interface %s is busy (in use by another program, or not a "
			 "multi-queue TAP while qp > 1)", name);
	else if (e == EINVAL)
		snprintf(err, errlen,
			 "net: interface %s: not a TAP that takes these settings (a TUN, or "
			 "single-queue while qp > 1?)", name);
	else
		snprintf(err, errlen, "net: interface %s: TUNSETIFF: %s", name, strerror(e));
	return -e;
}

/* IFF_VNET_HDR makes every frame carry a virtio-net header; the header is
 * 12 bytes (with num_buffers) so that it is virtio 1's. A single queue may
 * still meet an interface made multi-queue: then retry with the flag, as
 * Alioth does. */
static int setup_queue(struct tap *t, int fd, const struct tap_params *p, char *err,
		       size_t errlen)
{
	struct ifreq ifr;
	int hdr = NET_HDR_LEN;
	int ret;

	memset(&ifr, 0, sizeof(ifr));
	if (p->ifname)
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (p->pairs > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	ret = ioctl(fd, TUNSETIFF, &ifr);
	if (ret < 0 && errno == EINVAL && p->pairs == 1) {
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
		ret = ioctl(fd, TUNSETIFF, &ifr);
	}
	if (ret < 0)
		return setiff_error(p, errno, err, errlen);
	if (!t->ifname[0])
		snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name[0] ? ifr.ifr_name : "tap");
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		snprintf(err, errlen, "net: interface %s: TUNSETVNETHDRSZ: %s", t->ifname,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

/* Which offloads the interface takes, tried from the most to none; the
 * interface is left with none until the guest says what it accepts. */
static unsigned probe_offloads(int fd)
{
	static const unsigned tries[] = {
		NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6,
		NET_OFFLOAD_CSUM,
	};
	unsigned got = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(tries) && !got; i++)
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tap_tun_flags(tries[i])) == 0)
			got = tries[i];
	ioctl(fd, TUNSETOFFLOAD, 0UL);
	return got;
}

int tap_open(const struct tap_params *p, struct net_backend **out, char *err, size_t errlen)
{
	const char *dev = p->dev ? p->dev : "/dev/net/tun";
	struct tap *t;
	int ret = 0;

	if (p->pairs < 1 || p->pairs > TAP_MAX_PAIRS) {
		snprintf(err, errlen, "net: qp must be 1..%d", TAP_MAX_PAIRS);
		return -EINVAL;
	}
	t = xcalloc(1, sizeof(*t));
	for (unsigned i = 0; i < TAP_MAX_PAIRS; i++)
		t->fd[i] = -1;
	t->base.ops = &tap_ops;
	t->base.pairs = p->pairs;
	for (unsigned i = 0; i < p->pairs && !ret; i++) {
		t->fd[i] = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (t->fd[i] < 0)
			ret = open_error(p, dev, errno, err, errlen);
		else
			ret = setup_queue(t, t->fd[i], p, err, errlen);
	}
	if (ret) {
		tap_destroy(&t->base);
		return ret;
	}
	t->base.offloads = probe_offloads(t->fd[0]);
	t->base.name = t->ifname;
	*out = &t->base;
	return 0;
}
