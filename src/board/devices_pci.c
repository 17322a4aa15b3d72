#include "board/devices_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk/aio.h"
#include "board/board.h"
#include "board/virtio_board.h"
#include "pci/bus.h"
#include "pci/pvpanic.h"
#include "util/log.h"
#include "util/util.h"
#include "vhost/vu_frontend.h"
#include "virtio/blk.h"
#include "virtio/entropy.h"
#include "virtio/net.h"
#include "net/slirp.h"
#include "net/tap.h"

struct board_pci_devices {
	struct pvpanic *pvpanic;
};

static int add_pvpanic(struct machine *m, struct board_pci_devices *d)
{
	int err;

	d->pvpanic = pvpanic_create(&m->events);
	if (!d->pvpanic)
		return -ENOMEM;
	err = pci_bus_add_device(m->pci, pvpanic_pci_config(d->pvpanic), "pvpanic", -1, NULL);
	if (err)
		log_error("pvpanic: cannot add the device to the PCI bus: %s", strerror(-err));
	return err;
}

static enum blk_api blk_api_of(enum blk_engine e)
{
	switch (e) {
	case BLK_ENGINE_MIO:
		return BLK_API_MIO;
	case BLK_ENGINE_IOURING:
		return BLK_API_IOURING;
	case BLK_ENGINE_DEFAULT:
		break;
	}
	return BLK_API_AUTO;
}

/* --blk/--net vu,socket=PATH: the rings are served by another process. */
static int add_vu(struct machine *m, const char *socket, uint16_t device_id)
{
	struct vu_frontend *fe;
	char err[512];
	int ret = vu_frontend_connect(socket, device_id, &m->mem, &fe, err, sizeof(err));

	if (ret) {
		log_error("%s", err);
		return ret;
	}
	const struct virtio_pci_opts opts = { .remote_rings = true };
	return board_add_virtio(m, vu_frontend_ops(fe), fe, &opts);
}

static int add_blk(struct machine *m, const struct blk_config *c)
{
	const struct virtio_blk_params p = {
		.path = c->path,
		.readonly = c->readonly,
		.api = blk_api_of(c->api),
		.num_queues = c->num_queues,
	};
	struct virtio_blk *b;
	char err[512];
	int ret;

	if (c->vu_socket)
		return add_vu(m, c->vu_socket, VU_FRONTEND_BLK);
	ret = virtio_blk_create(&p, &b, err, sizeof(err));

	if (ret) {
		log_error("%s", err);
		return ret;
	}
	const struct virtio_pci_opts opts = { .no_packed = !c->packed };
	return board_add_virtio(m, &virtio_blk_ops, b, &opts);
}

/* --net user: the forwards were checked by the command line already. */
static int open_user_net(const struct net_config *c, struct net_backend **be, char *err,
			 size_t errlen)
{
	struct slirp_hostfwd fwd[SLIRP_MAX_HOSTFWD];
	struct slirp_params sp = { .mtu = c->mtu, .restricted = c->restricted, .fwd = fwd };
	int n = c->hostfwd ? slirp_parse_hostfwds(c->hostfwd, fwd, SLIRP_MAX_HOSTFWD, err,
						  errlen) : 0;

	if (n < 0)
		return -EINVAL;
	sp.nfwd = (unsigned)n;
	return slirp_open(&sp, be, err, errlen);
}

static int add_net(struct machine *m, const struct net_config *c)
{
	const struct tap_params tp = { .dev = c->tap, .ifname = c->if_name,
				       .pairs = c->queue_pairs ? c->queue_pairs : 1 };
	struct virtio_net_params p = { .mtu = c->mtu ? c->mtu : 1500 };
	struct virtio_net *n;
	char err[512];
	int ret;

	if (c->vu_socket)
		return add_vu(m, c->vu_socket, VU_FRONTEND_NET);
	ret = c->user ? open_user_net(c, &p.backend, err, sizeof(err))
		      : tap_open(&tp, &p.backend, err, sizeof(err));

	if (ret) {
		log_error("%s", err);
		return ret;
	}
	if (c->has_mac)
		memcpy(p.mac, c->mac, 6);
	else
		virtio_net_random_mac(p.mac);
	log_info("virtio-net: %s %s, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, %u queue pair(s)",
		 c->user ? "backend" : "tap", p.backend->name, p.mac[0], p.mac[1], p.mac[2], p.mac[3], p.mac[4], p.mac[5],
		 p.mtu, tp.pairs);
	n = virtio_net_create(&p);
	return board_add_virtio(m, virtio_net_dev_ops(n), n, NULL);
}

int board_add_pci_devices(struct machine *m, struct board_pci_devices **out)
{
	const struct vm_config *cfg = m->cfg;
	struct board_pci_devices *d = xcalloc(1, sizeof(*d));
	int err = 0;

	*out = d;
	if (cfg->pvpanic)
		err = add_pvpanic(m, d);
	if (!err && cfg->entropy)
		err = board_add_virtio(m, &virtio_entropy_ops, virtio_entropy_create(), NULL);
	for (unsigned i = 0; !err && i < cfg->nr_blk; i++)
		err = add_blk(m, &cfg->blk[i]);
	for (unsigned i = 0; !err && i < cfg->nr_net; i++)
		err = add_net(m, &cfg->net[i]);
	return err;
}

void board_pci_devices_destroy(struct board_pci_devices *d)
{
	if (!d)
		return;
	pvpanic_destroy(d->pvpanic);
	free(d);
}
