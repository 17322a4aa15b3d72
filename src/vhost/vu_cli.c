#include "vhost/vu_cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "board/config.h"
#include "cli/aco.h"
#include "cli/specs.h"
#include "net/tap.h"
#include "util/exit_status.h"
#include "util/log.h"
#include "vhost/vu_backend.h"
#include "virtio/blk.h"
#include "virtio/net.h"

struct vu_args {
	const char *socket;
	const char *device;
	const char *param;
	struct aco_objects objs;
};

struct device_kind {
	const char *name;
	const char *doc;
	const struct aco_field *param; /* documents -p; NULL: not built */
};

static const struct device_kind kinds[] = {
	{ "net", "VirtIO net device backed by TUN/TAP, MacVTap, or IPVTap.", &spec_net_tap },
	{ "blk", "VirtIO block device backed by a file.", &spec_blk_file },
	{ "fs", "VirtIO filesystem device backed by a shared host directory.", NULL },
	{ "vsock", "VirtIO vsock device backed by a Unix domain socket.", NULL },
};

__attribute__((format(printf, 3, 4)))
static int usage(FILE *err, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(err, "alioth: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return EXIT_USAGE;
}

static void vu_help(FILE *out)
{
	fputs("Start a vhost-user backend device.\n"
	      "\n"
	      "Usage: alioth vu --socket <PATH> <COMMAND>\n"
	      "\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		fprintf(out, "  %-6s%s%s\n", kinds[i].name, kinds[i].doc,
			kinds[i].param ? "" : " (not supported yet)");
	fputs("  help  Print this message or the help of the given subcommand(s)\n"
	      "\n"
	      "Options:\n"
	      "  -s, --socket <PATH>  Path to a Unix domain socket to listen on.\n"
	      "  -h, --help           Print help\n", out);
}

static void device_help(FILE *out, const struct device_kind *k)
{
	fprintf(out, "%s\n"
		"\n"
		"Usage: alioth vu --socket <PATH> %s [OPTIONS] --param <PARAM>\n"
		"\n"
		"Options:\n"
		"  -p, --param <PARAM>\n", k->doc, k->name);
	aco_help(out, "          Specify device parameters.", k->param);
	fputs("\n\n"
	      "  -o, --object <OBJECT>\n"
	      "          Define a value that -p refers to as id_NAME: <id>,<value>.\n"
	      "\n"
	      "  -h, --help\n"
	      "          Print help\n", out);
}

static const struct device_kind *kind_of(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}

/* "-x V", "-xV", "--long V", "--long=V": 1 with *value, 0 not this option,
 * -1 value missing. */
static int option_value(const char *s, const char *l, int argc, char **argv, int *i,
			const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(l);
	if (!strncmp(arg, "--", 2) && !strncmp(arg + 2, l, n) && arg[2 + n] == '=') {
		*value = arg + 3 + n;
		return 1;
	}
	bool whole = (!strncmp(arg, "--", 2) && !strcmp(arg + 2, l)) || !strcmp(arg, s);
	if (!whole && !strncmp(arg, s, 2) && arg[2]) {
		*value = arg[2] == '=' ? arg + 3 : arg + 2;
		return 1;
	}
	if (!whole)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* Returns 0 to run, -1 when help was printed, or an exit status. */
static int parse_device_args(int argc, char **argv, int i, const struct device_kind *k,
			     struct vu_args *a, FILE *out, FILE *err)
{
	const char *cmd = "vu";
	for (; i < argc; i++) {
		const char *v;
		int r;
		if (is_help(argv[i])) {
			if (k->param)
				device_help(out, k);
			else
				vu_help(out);
			return -1;
		}
		if ((r = option_value("-p", "param", argc, argv, &i, &v)) != 0) {
			if (r < 0)
				return usage(err, cmd, "a value is required for '--param <PARAM>'");
			if (a->param)
				return usage(err, cmd, "the argument '--param' cannot be used multiple times");
			a->param = v;
		} else if ((r = option_value("-o", "object", argc, argv, &i, &v)) != 0) {
			char why[256];
			if (r < 0)
				return usage(err, cmd, "a value is required for '--object <OBJECT>'");
			if (aco_objects_add(&a->objs, v, why, sizeof(why)))
				return usage(err, cmd, "--object: %s", why);
		} else {
			return usage(err, cmd, "unexpected argument '%s'", argv[i]);
		}
	}
	if (!a->param)
		return usage(err, cmd, "the required argument '--param <PARAM>' was not provided");
	return 0;
}

static int parse_args(int argc, char **argv, struct vu_args *a, FILE *out, FILE *err)
{
	int i = 1;
	if (argc < 2) { /* arg_required_else_help */
		vu_help(err);
		return EXIT_USAGE;
	}
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v;
		int r;
		if (is_help(argv[i])) {
			vu_help(out);
			return -1;
		}
		r = option_value("-s", "socket", argc, argv, &i, &v);
		if (r < 0)
			return usage(err, "vu", "a value is required for '--socket <PATH>'");
		if (r == 0)
			return usage(err, "vu", "unexpected argument '%s'", argv[i]);
		a->socket = v;
	}
	if (i >= argc)
		return usage(err, "vu", "a device is required (net, blk, fs or vsock)");
	if (!strcmp(argv[i], "help")) {
		vu_help(out);
		return -1;
	}
	const struct device_kind *k = kind_of(argv[i]);
	if (!k)
		return usage(err, "vu", "unrecognized subcommand '%s'", argv[i]);
	a->device = k->name;
	int ret = parse_device_args(argc, argv, i + 1, k, a, out, err);
	if (ret)
		return ret;
	if (!k->param)
		return usage(err, "vu", "'%s' is not supported yet", k->name);
	if (!a->socket)
		return usage(err, "vu", "the required argument '--socket <PATH>' was not provided");
	return 0;
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

static int listen_on(const char *path, FILE *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(err, "alioth: failed to bind socket %s: the path is too long\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		fprintf(err, "alioth: failed to bind socket %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* `net -p`: what the TAP and the device are opened with. */
struct net_conf {
	char *tap, *if_name;
	unsigned pairs;
	uint16_t mtu;
	uint8_t mac[6]; /* chosen once: every connection's device has the same */
};

/* What -p said, for the kind of device being served. */
struct vu_conf {
	const char *kind; /* "blk" or "net" */
	struct blk_config blk;
	struct net_conf net;
};

/* A device ready for a connection, and how the backend shows it. */
struct vu_device {
	const struct virtio_dev_ops *ops;
	void *dev;
	struct vu_backend_opts opts;
};

static int create_blk(const struct blk_config *cfg, struct vu_device *d, FILE *err)
{
	const struct virtio_blk_params p = {
		.path = cfg->path, .readonly = cfg->readonly, .api = blk_api_of(cfg->api),
		.num_queues = cfg->num_queues,
	};
	struct virtio_blk *b;
	char why[512];
	if (virtio_blk_create(&p, &b, why, sizeof(why))) {
		fprintf(err, "alioth: failed to create a VirtIO device: %s\n", why);
		return EXIT_VMM_ERROR;
	}
	*d = (struct vu_device){
		.ops = &virtio_blk_ops, .dev = b,
		.opts = { .nr_queues = cfg->num_queues ? cfg->num_queues : 1,
			  .no_packed = !cfg->packed },
	};
	return 0;
}

/* The TAP is opened for each connection, as the file of a disk is: the
 * frontend of the next connection finds the interface as it was. */
static int create_net(const struct net_conf *cfg, unsigned index, struct vu_device *d, FILE *err)
{
	const struct tap_params tp = { .dev = cfg->tap, .ifname = cfg->if_name,
				       .pairs = cfg->pairs };
	struct virtio_net_params p = { .mtu = cfg->mtu };
	const uint8_t *m = cfg->mac;
	char why[512];
	if (tap_open(&tp, &p.backend, why, sizeof(why))) {
		fprintf(err, "alioth: failed to create a VirtIO device: %s\n", why);
		return EXIT_VMM_ERROR;
	}
	memcpy(p.mac, m, 6);
	log_info("net-%u: tap %s, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, %u queue pair(s)",
		 index, p.backend->name, m[0], m[1], m[2], m[3], m[4], m[5], p.mtu, tp.pairs);
	struct virtio_net *n = virtio_net_create(&p);
	/* All 2 * pairs + 1 queues, the control queue last, as on PCI. QEMU
	 * keeps the control queue to itself and never starts it here. */
	*d = (struct vu_device){ .ops = virtio_net_dev_ops(n), .dev = n };
	return 0;
}

/* One connection: a fresh device, served until the frontend goes away. */
static int serve_one(int lfd, const struct vu_conf *conf, unsigned index, FILE *err)
{
	struct vu_device d;
	int ret = strcmp(conf->kind, "net") ? create_blk(&conf->blk, &d, err)
					    : create_net(&conf->net, index, &d, err);
	if (ret)
		return ret;
	int conn;
	do {
		conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	} while (conn < 0 && errno == EINTR);
	if (conn < 0) {
		fprintf(err, "alioth: failed to accept connections: %s\n", strerror(errno));
		d.ops->destroy(d.dev);
		return EXIT_VMM_ERROR;
	}
	struct vu_backend *vu = vu_backend_create(d.ops, d.dev, &d.opts);
	if (!vu) {
		close(conn);
		d.ops->destroy(d.dev);
		return EXIT_VMM_ERROR;
	}
	log_info("%s-%u: connected", conf->kind, index);
	vu_backend_serve(vu, conn);
	vu_backend_destroy(vu);
	close(conn);
	log_info("%s-%u: done", conf->kind, index);
	return 0;
}

/* Alioth's `vu blk -p` takes BlkFileSpec ("path=..."); `boot --blk`'s
 * BlkSpec spelling ("file,path=...") is accepted too. */
static int parse_blk(const struct vu_args *a, struct blk_config *cfg, FILE *err)
{
	struct blk_spec spec = { .kind = BLK_KIND_FILE };
	char why[512], why_file[512];
	int ret = 0;
	if (!aco_parse(&spec_blk, a->param, &spec, &a->objs, why, sizeof(why))) {
		if (spec.kind == BLK_KIND_VU)
			ret = usage(err, "vu", "blk: a vhost-user disk cannot be served here");
		*cfg = spec.file;
		spec.file.path = NULL;
	} else if (aco_parse(&spec_blk_file, a->param, cfg, &a->objs, why_file,
			     sizeof(why_file))) {
		fprintf(err, "alioth: failed to parse %s: %s\n", a->param,
			strncmp(a->param, "file,", 5) ? why_file : why);
		ret = EXIT_USAGE;
	}
	free(spec.file.path);
	free(spec.socket);
	if (!ret && cfg->num_queues > VIRTIO_BLK_MAX_QUEUES)
		ret = usage(err, "vu", "num_queues: at most %d", VIRTIO_BLK_MAX_QUEUES);
	return ret;
}

/* "06:3a:76:53:da:3d" (any case): six two-digit hex bytes, unicast. */
static bool parse_mac(const char *text, uint8_t mac[6])
{
	if (strlen(text) != 17)
		return false;
	for (unsigned i = 0; i < 6; i++) {
		const char *p = text + 3 * i;
		const char hex[3] = { p[0], p[1], 0 };
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return false;
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return !(mac[0] & 1);
}

#define NET_MIN_MTU 68 /* IPv4's minimum, as boot --net */

/* The checks boot --net makes, into cfg. */
static int net_conf_of(struct net_tap_spec *t, struct net_conf *cfg, FILE *err)
{
	if (!t->tap && !t->if_name)
		return usage(err, "vu", "net: if=NAME is required for a TUN/TAP interface "
					"(or give tap=/dev/tapN for MacVTap/IPVTap)");
	if (t->mac && !parse_mac(t->mac, cfg->mac))
		return usage(err, "vu", "net: mac: '%s' is not a unicast MAC address like "
					"06:3a:76:53:da:3d", t->mac);
	if (!t->mac)
		virtio_net_random_mac(cfg->mac);
	if (t->queue_pairs < 1 || t->queue_pairs > TAP_MAX_PAIRS)
		return usage(err, "vu", "net: qp: must be 1 to %d", TAP_MAX_PAIRS);
	if (t->mtu < NET_MIN_MTU)
		return usage(err, "vu", "net: mtu: must be at least %d", NET_MIN_MTU);
	cfg->pairs = t->queue_pairs;
	cfg->mtu = t->mtu;
	cfg->tap = t->tap;
	cfg->if_name = t->if_name;
	t->tap = t->if_name = NULL;
	return 0;
}

/* Alioth's `vu net -p` takes TapNetSpec ("if=..."); `boot --net`'s
 * NetSpec spelling ("tap,if=...") is accepted too. */
static int parse_net(const struct vu_args *a, struct net_conf *cfg, FILE *err)
{
	struct net_spec spec = { .kind = NET_KIND_TAP };
	struct net_tap_spec bare = { .api = BLK_ENGINE_DEFAULT };
	char why[512], why_bare[512];
	int ret;
	if (!aco_parse(&spec_net, a->param, &spec, &a->objs, why, sizeof(why))) {
		ret = spec.kind == NET_KIND_TAP
			      ? net_conf_of(&spec.tap, cfg, err)
			      : usage(err, "vu", "net: only a TAP device can be served here");
	} else if (!aco_parse(&spec_net_tap, a->param, &bare, &a->objs, why_bare,
			      sizeof(why_bare))) {
		ret = net_conf_of(&bare, cfg, err);
	} else {
		bool variant = !strncmp(a->param, "tap,", 4) || !strcmp(a->param, "tap");
		fprintf(err, "alioth: failed to parse %s: %s\n", a->param, variant ? why : why_bare);
		ret = EXIT_USAGE;
	}
	free(spec.tap.mac);
	free(spec.tap.tap);
	free(spec.tap.if_name);
	free(spec.socket);
	free(spec.hostfwd);
	free(bare.mac);
	free(bare.tap);
	free(bare.if_name);
	return ret;
}

static void conf_free(struct vu_conf *conf)
{
	free(conf->blk.path);
	free(conf->net.tap);
	free(conf->net.if_name);
}

static int run(const struct vu_args *a, FILE *err)
{
	struct vu_conf conf = { .kind = a->device };
	int ret = strcmp(a->device, "net") ? parse_blk(a, &conf.blk, err)
					   : parse_net(a, &conf.net, err);
	if (ret) {
		conf_free(&conf);
		return ret;
	}
	int lfd = listen_on(a->socket, err);
	ret = lfd < 0 ? EXIT_VMM_ERROR : 0;
	for (unsigned index = 0; !ret; index++)
		ret = serve_one(lfd, &conf, index, err);
	if (lfd >= 0) {
		close(lfd);
		unlink(a->socket); /* ours: a stale socket would make the next bind fail */
	}
	conf_free(&conf);
	return ret;
}

int vu_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct vu_args a = { 0 };
	int ret = parse_args(argc, argv, &a, out, err);
	if (ret == 0)
		ret = run(&a, err);
	else if (ret < 0)
		ret = EXIT_POWEROFF;
	aco_objects_free(&a.objs);
	return ret;
}

int vu_help_main(int argc, char **argv, FILE *out, FILE *err)
{
	if (argc < 2) {
		vu_help(out);
		return EXIT_POWEROFF;
	}
	const struct device_kind *k = kind_of(argv[1]);
	if (!k)
		return usage(err, "help vu", "unrecognized subcommand '%s'", argv[1]);
	if (!k->param)
		return usage(err, "help vu", "'%s' is not supported yet", k->name);
	device_help(out, k);
	return EXIT_POWEROFF;
}
