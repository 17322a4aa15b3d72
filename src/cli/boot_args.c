#include "cli/boot_args.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/aco.h"
#include "cli/specs.h"
#include "net/slirp.h"
#include "util/exit_status.h"
#include "util/util.h"

struct boot_flag;

struct boot_state {
	struct vm_config *cfg;
	FILE *err;
	struct aco_objects objs;
	uint16_t num_cpu;  /* deprecated --num-cpu */
	uint64_t mem_size; /* deprecated --mem-size */
};

typedef int (*apply_fn)(struct boot_state *st, const struct boot_flag *flag, const char *value);

/* One `alioth boot` flag. Switching a flag on later means writing its
 * apply function (or table) and setting .supported. */
struct boot_flag {
	const char *name;       /* long name without "--" */
	const char *alias;      /* another long name, or NULL */
	char short_name;        /* 0: none */
	const char *value_name; /* NULL: a switch */
	bool repeatable;
	bool supported;
	const char *doc;
	const struct aco_field *spec; /* value syntax rendered in help */
	const char *dflt;             /* shown in help */
	size_t cfg_offset;            /* for apply_string / apply_switch */
	apply_fn apply;
};

__attribute__((format(printf, 3, 4)))
static int usage(struct boot_state *st, const char *flag, const char *fmt, ...)
{
	va_list ap;

	fputs("alioth: ", st->err);
	if (flag)
		fprintf(st->err, "--%s: ", flag);
	va_start(ap, fmt);
	vfprintf(st->err, fmt, ap);
	va_end(ap);
	fputc('\n', st->err);
	return EXIT_USAGE;
}

static int parse_spec(struct boot_state *st, const struct boot_flag *flag,
		      const struct aco_field *spec, const char *value, void *dst)
{
	char err[512];

	if (aco_parse(spec, value, dst, &st->objs, err, sizeof(err)) < 0)
		return usage(st, flag->name, "%s", err);
	return 0;
}

static int apply_string(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	char **dst = (char **)((char *)st->cfg + flag->cfg_offset);

	free(*dst);
	*dst = xstrdup(value);
	return 0;
}

static int apply_switch(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	(void)value;
	*(bool *)((char *)st->cfg + flag->cfg_offset) = true;
	return 0;
}

static int apply_hypervisor(struct boot_state *st, const struct boot_flag *flag,
			    const char *value)
{
	struct hv_spec hv = { .kind = HV_KVM };
	int ret = parse_spec(st, flag, &spec_hypervisor, value, &hv);

	if (!ret && hv.dev_sev)
		ret = usage(st, flag->name, "dev_sev: not supported yet");
	if (!ret) {
		free(st->cfg->dev_kvm);
		st->cfg->dev_kvm = hv.dev_kvm;
		hv.dev_kvm = NULL;
	}
	free(hv.dev_kvm);
	free(hv.dev_sev);
	return ret;
}

static int apply_num_cpu(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	return parse_spec(st, flag, &spec_u16, value, &st->num_cpu);
}

static int apply_cpu(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	return parse_spec(st, flag, &spec_cpu, value, &st->cfg->cpu);
}

static int apply_mem_size(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	return parse_spec(st, flag, &spec_u64, value, &st->mem_size);
}

static int apply_memory(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	return parse_spec(st, flag, &spec_memory, value, &st->cfg->mem);
}

static int apply_console(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	return parse_spec(st, flag, &spec_console, value, &st->cfg->console);
}

static int apply_object(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	char err[256];

	if (aco_objects_add(&st->objs, value, err, sizeof(err)) < 0)
		return usage(st, flag->name, "%s", err);
	return 0;
}

/* QEMU reserves names outside "opt/" for itself and firmware; and fw_cfg
 * names hold at most 55 bytes. */
#define FW_CFG_NAME_MAX 55

static int check_fw_cfg_item(struct boot_state *st, const char *flag,
			     const struct fw_cfg_item_config *it)
{
	const struct vm_config *cfg = st->cfg;

	if (!it->file == !it->string)
		return usage(st, flag, "give exactly one of file=PATH and string=TEXT");
	if (strlen(it->name) > FW_CFG_NAME_MAX)
		return usage(st, flag, "name '%s' is longer than %d bytes", it->name,
			     FW_CFG_NAME_MAX);
	if (strncmp(it->name, "opt/", 4) || !it->name[4])
		return usage(st, flag,
			     "name '%s' must start with 'opt/' (QEMU keeps other names for itself "
			     "and recommends opt/ORGANIZATION/NAME)", it->name);
	for (unsigned i = 0; i < cfg->nr_fw_cfg; i++)
		if (!strcmp(cfg->fw_cfg[i].name, it->name))
			return usage(st, flag, "name '%s' given more than once", it->name);
	return 0;
}

static int apply_fw_cfg(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	struct fw_cfg_item_config it = { NULL, NULL, NULL };
	struct vm_config *cfg = st->cfg;
	int ret = parse_spec(st, flag, &spec_fw_cfg_item, value, &it);

	if (!ret)
		ret = check_fw_cfg_item(st, flag->name, &it);
	if (ret) {
		free(it.name);
		free(it.file);
		free(it.string);
		return ret;
	}
	cfg->fw_cfg = realloc(cfg->fw_cfg, (cfg->nr_fw_cfg + 1) * sizeof(*cfg->fw_cfg));
	if (!cfg->fw_cfg)
		abort();
	cfg->fw_cfg[cfg->nr_fw_cfg++] = it;
	return 0;
}

static void add_blk(struct vm_config *cfg, struct blk_config *b)
{
	cfg->blk = realloc(cfg->blk, (cfg->nr_blk + 1) * sizeof(*cfg->blk));
	if (!cfg->blk)
		abort();
	cfg->blk[cfg->nr_blk++] = *b;
	b->path = NULL;
}

static bool looks_like_options(const char *value)
{
	return !strncmp(value, "file,", 5) || !strncmp(value, "vu,", 3) ||
	       !strncmp(value, "path=", 5);
}

/* Like Alioth: BlkSpec ("file,path=..."), then the older BlkFileSpec
 * ("path=..."), then a bare path with a hint. A value that plainly meant
 * options but does not parse is an error here rather than a file name. */
static int apply_blk(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	struct blk_spec spec = { .kind = BLK_KIND_FILE };
	struct blk_config old = { .api = BLK_ENGINE_DEFAULT, .packed = true };
	char err[512], err_old[512];
	int ret = 0;

	if (!aco_parse(&spec_blk, value, &spec, &st->objs, err, sizeof(err))) {
		if (spec.kind == BLK_KIND_VU) {
			struct blk_config vu = { .vu_socket = spec.socket, .packed = true };
			spec.socket = NULL;
			add_blk(st->cfg, &vu);
		} else {
			add_blk(st->cfg, &spec.file);
		}
	} else if (!aco_parse(&spec_blk_file, value, &old, &st->objs, err_old, sizeof(err_old))) {
		add_blk(st->cfg, &old);
	} else if (looks_like_options(value)) {
		ret = usage(st, flag->name, "%s", strncmp(value, "path=", 5) ? err : err_old);
	} else {
		fprintf(st->err, "alioth: --blk PATH is deprecated, use --blk file,path=%s\n", value);
		old.path = xstrdup(value);
		old.api = BLK_ENGINE_MIO; /* what Alioth picks for this form */
		add_blk(st->cfg, &old);
	}
	if (!ret)
		for (unsigned i = 0; i < st->cfg->nr_blk; i++)
			if (st->cfg->blk[i].num_queues > 8)
				ret = usage(st, flag->name, "num_queues: at most 8");
	free(spec.file.path);
	free(spec.socket);
	free(old.path);
	return ret;
}

/* "06:3a:76:53:da:3d" (any case); a unicast address. */
static bool parse_mac(const char *text, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (strlen(text) != 17 ||
	    sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6)
		return false;
	for (unsigned i = 0; i < 6; i++) {
		if (text[3 * i] == '+' || text[3 * i] == '-' || text[3 * i] == ' ' ||
		    (i < 5 && text[3 * i + 2] != ':'))
			return false;
		mac[i] = (uint8_t)v[i];
	}
	return !(mac[0] & 1);
}

#define NET_MAX_QUEUE_PAIRS 16 /* TAP_MAX_PAIRS */
#define NET_MIN_MTU 68         /* IPv4's minimum */

static int add_net(struct boot_state *st, const char *flag, struct net_tap_spec *t)
{
	struct vm_config *cfg = st->cfg;
	struct net_config n = { .mtu = t->mtu, .queue_pairs = t->queue_pairs };

	if (!t->tap && !t->if_name)
		return usage(st, flag, "if=NAME is required for a TUN/TAP interface "
				       "(or give tap=/dev/tapN for MacVTap/IPVTap)");
	if (t->mac && !parse_mac(t->mac, n.mac))
		return usage(st, flag, "mac: '%s' is not a unicast MAC address like 06:3a:76:53:da:3d",
			     t->mac);
	if (n.queue_pairs < 1 || n.queue_pairs > NET_MAX_QUEUE_PAIRS)
		return usage(st, flag, "qp: must be 1 to %d", NET_MAX_QUEUE_PAIRS);
	if (n.mtu < NET_MIN_MTU)
		return usage(st, flag, "mtu: must be at least %d", NET_MIN_MTU);
	n.has_mac = t->mac != NULL;
	n.tap = t->tap;
	n.if_name = t->if_name;
	t->tap = t->if_name = NULL;
	cfg->net = realloc(cfg->net, (cfg->nr_net + 1) * sizeof(*cfg->net));
	if (!cfg->net)
		abort();
	cfg->net[cfg->nr_net++] = n;
	return 0;
}

static int add_net_user(struct boot_state *st, const char *flag, struct net_spec *u)
{
	struct vm_config *cfg = st->cfg;
	struct net_config n = { .user = true, .mtu = u->tap.mtu, .queue_pairs = 1,
				.restricted = u->restricted };
	struct slirp_hostfwd fwd[SLIRP_MAX_HOSTFWD];
	char err[256];

	if (u->tap.mac && !parse_mac(u->tap.mac, n.mac))
		return usage(st, flag, "mac: '%s' is not a unicast MAC address like 06:3a:76:53:da:3d",
			     u->tap.mac);
	if (n.mtu < SLIRP_MIN_MTU || n.mtu > SLIRP_MAX_MTU)
		return usage(st, flag, "mtu: must be %d to %d", SLIRP_MIN_MTU, SLIRP_MAX_MTU);
	if (u->hostfwd && slirp_parse_hostfwds(u->hostfwd, fwd, SLIRP_MAX_HOSTFWD, err,
					       sizeof(err)) < 0)
		return usage(st, flag, "%s", err);
	n.has_mac = u->tap.mac != NULL;
	n.hostfwd = u->hostfwd;
	u->hostfwd = NULL;
	cfg->net = realloc(cfg->net, (cfg->nr_net + 1) * sizeof(*cfg->net));
	if (!cfg->net)
		abort();
	cfg->net[cfg->nr_net++] = n;
	return 0;
}

static int add_net_vu(struct boot_state *st, struct net_spec *spec)
{
	struct vm_config *cfg = st->cfg;
	struct net_config n = { .vu_socket = spec->socket, .queue_pairs = 1 };

	spec->socket = NULL;
	cfg->net = realloc(cfg->net, (cfg->nr_net + 1) * sizeof(*cfg->net));
	if (!cfg->net)
		abort();
	cfg->net[cfg->nr_net++] = n;
	return 0;
}

/* Like Alioth: NetSpec ("tap,if=..." or "vu,socket=..."; "user,..." is
 * ours), then TapNetSpec alone ("if=..."). */
static int apply_net(struct boot_state *st, const struct boot_flag *flag, const char *value)
{
	struct net_spec spec = { .kind = NET_KIND_TAP };
	struct net_tap_spec bare = { .api = BLK_ENGINE_DEFAULT };
	char err[512], err_bare[512];
	int ret;

	if (!aco_parse(&spec_net, value, &spec, &st->objs, err, sizeof(err))) {
		if (spec.kind == NET_KIND_VU)
			ret = add_net_vu(st, &spec);
		else if (spec.kind == NET_KIND_USER)
			ret = add_net_user(st, flag->name, &spec);
		else
			ret = add_net(st, flag->name, &spec.tap);
	} else if (!aco_parse(&spec_net_tap, value, &bare, &st->objs, err_bare,
			      sizeof(err_bare))) {
		ret = add_net(st, flag->name, &bare);
	} else {
		bool variant = !strncmp(value, "tap", 3) || !strncmp(value, "vu", 2) ||
			       !strncmp(value, "user", 4);
		ret = usage(st, flag->name, "%s", variant ? err : err_bare);
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

#define CFG(member) .cfg_offset = offsetof(struct vm_config, member)

static const char objects_doc[] =
	"Define a value other flags refer to by its id:\n"
	"* <id>,<value>\n"
	"\n"
	"A value after '=' that itself holds ',' or '=' can be written as\n"
	"id_NAME and supplied here; <id> must start with `id_` and contain\n"
	"neither ',' nor '='. For example a topology in an object:\n"
	"    --cpu count=4,topology=id_topo -o id_topo,sockets=2,cores=2";

/* In Alioth's order, which is also the order of `alioth boot --help`. */
static const struct boot_flag boot_flags[] = {
	{ "hypervisor", NULL, 0, "HV", false, true, "Choose the hypervisor.",
	  &spec_hypervisor, NULL, 0, apply_hypervisor },
	{ "kernel", NULL, 'k', "PATH", false, true, "Linux kernel image (bzImage) to boot.",
	  NULL, NULL, CFG(kernel), apply_string },
	{ "pvh", NULL, 0, "PATH", false, true, "ELF kernel to boot through its PVH entry note.",
	  NULL, NULL, CFG(pvh), apply_string },
	{ "firmware", NULL, 'f', "PATH", false, true, "Firmware image to boot.",
	  NULL, NULL, CFG(firmware), apply_string },
	{ "cmdline", "cmd-line", 'c', "ARGS", false, true,
	  "Kernel command line, e.g. `console=ttyS0`.", NULL, NULL, CFG(cmdline), apply_string },
	{ "initramfs", NULL, 'i', "PATH", false, true, "Initramfs image handed to the kernel.",
	  NULL, NULL, CFG(initramfs), apply_string },
	{ "num-cpu", NULL, 0, "NUM_CPU", false, true, "DEPRECATED: use --cpu instead.",
	  NULL, "1", 0, apply_num_cpu },
	{ "cpu", NULL, 'p', "CPU", false, true, "Set up the guest's vCPUs.",
	  &spec_cpu, NULL, 0, apply_cpu },
	{ "mem-size", NULL, 0, "MEM_SIZE", false, true, "DEPRECATED: use --memory instead.",
	  NULL, "1G", 0, apply_mem_size },
	{ "memory", NULL, 'm', "MEMORY", false, true, "Set up the guest's memory.",
	  &spec_memory, NULL, 0, apply_memory },
	{ "pvpanic", NULL, 0, NULL, false, true, "Add a pvpanic device.",
	  NULL, NULL, CFG(pvpanic), apply_switch },
	{ "fw-cfg", NULL, 0, "ITEM", true, true, "Add an extra item to the fw_cfg device.",
	  &spec_fw_cfg_item, NULL, 0, apply_fw_cfg },
	{ "entropy", NULL, 0, NULL, false, true, "Add a VirtIO entropy device.",
	  NULL, NULL, CFG(entropy), apply_switch },
	{ "net", NULL, 0, "NET", true, true, "Add a VirtIO network device.",
	  &spec_net, NULL, 0, apply_net },
	{ "blk", NULL, 0, "BLK", true, true, "Add a VirtIO block device.",
	  &spec_blk, NULL, 0, apply_blk },
	{ "coco", NULL, 0, "COCO", false, false,
	  "Turn on the host's confidential computing (SEV, SEV-SNP, TDX).", NULL, NULL, 0, NULL },
	{ "fs", NULL, 0, "FS", true, false, "Add a VirtIO file system device.",
	  NULL, NULL, 0, NULL },
	{ "vsock", NULL, 0, "VSOCK", false, false, "Add a VirtIO vsock device.",
	  NULL, NULL, 0, NULL },
	{ "console", NULL, 0, "CONSOLE", false, true, "Choose where the guest console goes.",
	  &spec_console, NULL, 0, apply_console },
	{ "vfio-cdev", NULL, 0, "VFIO_CDEV", true, false,
	  "Pass a host PCI device through with the IOMMUFD API.", NULL, NULL, 0, NULL },
	{ "vfio-ioas", NULL, 0, "VFIO_IOAS", true, false, "Create an IO address space.",
	  NULL, NULL, 0, NULL },
	{ "vfio-group", NULL, 0, "VFIO_GROUP", true, false,
	  "Pass a host PCI device through with the legacy VFIO API.", NULL, NULL, 0, NULL },
	{ "vfio-container", NULL, 0, "VFIO_CONTAINER", true, false, "Add a VFIO container.",
	  NULL, NULL, 0, NULL },
	{ "balloon", NULL, 0, "BALLOON", false, false, "Add a VirtIO balloon device.",
	  NULL, NULL, 0, NULL },
	{ "object", NULL, 'o', "OBJECT", true, true, objects_doc, NULL, NULL, 0, apply_object },
};

enum { N_FLAGS = ARRAY_SIZE(boot_flags) };

static const struct boot_flag *flag_named(const char *name)
{
	for (size_t i = 0; i < N_FLAGS; i++) {
		const struct boot_flag *f = &boot_flags[i];
		if (!strcmp(name, f->name) || (f->alias && !strcmp(name, f->alias)))
			return f;
	}
	return NULL;
}

static size_t flag_index(const char *name)
{
	return (size_t)(flag_named(name) - boot_flags);
}

static const struct boot_flag *flag_short(char c)
{
	for (size_t i = 0; i < N_FLAGS; i++)
		if (boot_flags[i].short_name == c)
			return &boot_flags[i];
	return NULL;
}

/* ---- help ---- */

static void print_indented(FILE *out, const char *text)
{
	const char *line = text, *end;

	for (;;) {
		end = strchrnul(line, '\n');
		if (end > line)
			fprintf(out, "          %.*s", (int)(end - line), line);
		fputc('\n', out);
		if (!*end)
			break;
		line = end + 1;
	}
}

static void flag_help(FILE *out, const struct boot_flag *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	if (f->short_name)
		fprintf(out, "  -%c, --%s", f->short_name, f->name);
	else
		fprintf(out, "      --%s", f->name);
	if (f->value_name)
		fprintf(out, " <%s>", f->value_name);
	fputc('\n', out);

	mem = open_memstream(&text, &len);
	if (!mem)
		abort();
	if (f->spec)
		aco_help(mem, f->doc, f->spec);
	else
		fputs(f->doc, mem);
	if (f->dflt)
		fprintf(mem, " [default: %s]", f->dflt);
	if (f->alias)
		fprintf(mem, "\n[alias: --%s]", f->alias);
	if (!f->supported)
		fputs("\n(not supported yet)", mem);
	fclose(mem);
	print_indented(out, text);
	free(text);
}

void boot_args_help(FILE *out)
{
	fputs("Create and boot a virtual machine.\n\n"
	      "Usage: alioth boot [OPTIONS]\n\n"
	      "Options:\n", out);
	for (size_t i = 0; i < N_FLAGS; i++) {
		flag_help(out, &boot_flags[i]);
		fputc('\n', out);
	}
	fputs("  -h, --help\n          Print help\n", out);
}

/* ---- flags ---- */

struct occurrence {
	const struct boot_flag *flag;
	const char *value;
};

struct scan {
	struct occurrence *occ;
	size_t count;
	unsigned given[N_FLAGS];
};

/* Finds the value of a flag written as "--flag=value", "-kvalue", "-k=value"
 * or "--flag value"; like clap, a following word that looks like a flag is
 * not taken as a value. */
static int flag_value(struct boot_state *st, const struct boot_flag *f, const char *inline_val,
		      int argc, char **argv, int *i, const char **value)
{
	if (!f->value_name) {
		if (inline_val)
			return usage(st, f->name, "takes no value, got '%s'", inline_val);
		*value = NULL;
		return 0;
	}
	if (inline_val) {
		*value = inline_val;
		return 0;
	}
	if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1] != '\0'))
		return usage(st, f->name, "a value <%s> is required", f->value_name);
	*value = argv[++*i];
	return 0;
}

static int record(struct boot_state *st, struct scan *sc, const struct boot_flag *f,
		  const char *value)
{
	size_t idx = (size_t)(f - boot_flags);

	if (!f->supported)
		return usage(st, f->name, "not supported yet");
	if (sc->given[idx] && !f->repeatable)
		return usage(st, f->name, "given more than once");
	sc->given[idx]++;
	sc->occ[sc->count++] = (struct occurrence){ f, value };
	return 0;
}

static int scan_long(struct boot_state *st, struct scan *sc, int argc, char **argv, int *i)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
	char name[64];
	const struct boot_flag *f = NULL;
	const char *value;

	if (name_len < sizeof(name)) {
		memcpy(name, arg, name_len);
		name[name_len] = '\0';
		f = flag_named(name);
	}
	if (!f)
		return usage(st, NULL, "unexpected argument '%s' (see 'alioth boot --help')",
			     argv[*i]);
	if (flag_value(st, f, eq ? eq + 1 : NULL, argc, argv, i, &value))
		return EXIT_USAGE;
	return record(st, sc, f, value);
}

static int scan_short(struct boot_state *st, struct scan *sc, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	const struct boot_flag *f = flag_short(arg[1]);
	const char *inline_val = NULL;
	const char *value;

	if (!f)
		return usage(st, NULL, "unexpected argument '%s' (see 'alioth boot --help')", arg);
	if (arg[2])
		inline_val = arg[2] == '=' ? arg + 3 : arg + 2;
	if (flag_value(st, f, inline_val, argc, argv, i, &value))
		return EXIT_USAGE;
	return record(st, sc, f, value);
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

static int scan_args(struct boot_state *st, struct scan *sc, int argc, char **argv, FILE *out)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int ret;

		if (is_help(arg)) {
			boot_args_help(out);
			return BOOT_ARGS_HELP;
		}
		if (arg[0] == '-' && arg[1] == '-' && arg[2])
			ret = scan_long(st, sc, argc, argv, &i);
		else if (arg[0] == '-' && arg[1] && arg[1] != '-')
			ret = scan_short(st, sc, argc, argv, &i);
		else
			ret = usage(st, NULL, "unexpected argument '%s' (see 'alioth boot --help')",
				    arg);
		if (ret)
			return ret;
	}
	return 0;
}

/* Objects first: any other flag's value may name one defined later. */
static int apply_all(struct boot_state *st, const struct scan *sc)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sc->count; i++) {
			const struct occurrence *o = &sc->occ[i];
			bool is_object = o->flag->apply == apply_object;
			int ret;

			if (is_object != (pass == 0))
				continue;
			ret = o->flag->apply(st, o->flag, o->value);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* ---- what the flags mean together ---- */

static int check_payload(struct boot_state *st)
{
	const struct vm_config *cfg = st->cfg;
	int n = !!cfg->kernel + !!cfg->pvh + !!cfg->firmware;

	if (n == 0)
		return usage(st, NULL, "no kernel to boot: give -k/--kernel PATH or --pvh PATH");
	/* With firmware, -k is the kernel the firmware loads through fw_cfg. */
	if (cfg->firmware && cfg->kernel && !cfg->pvh)
		return 0;
	if (n > 1)
		return usage(st, NULL, "-k/--kernel, --pvh and -f/--firmware exclude each other");
	return 0;
}

/* Alioth fills in what the topology leaves out, then insists it adds up. */
static int derive_topology(struct boot_state *st, const char *flag)
{
	struct cpu_config *cpu = &st->cfg->cpu;
	struct cpu_topology *t = &cpu->topology;
	unsigned threads = 1 + t->smt;
	unsigned long total;

	if (cpu->count == 0)
		return usage(st, flag, "count must be at least 1");
	if (t->sockets == 0)
		t->sockets = 1;
	if (t->cores == 0)
		t->cores = (uint16_t)(cpu->count / t->sockets / threads);
	total = (unsigned long)t->sockets * t->cores * threads;
	if (total != cpu->count)
		return usage(st, flag,
			     "count=%u does not match the topology: %u socket(s) x %u core(s) x %u thread(s) = %lu",
			     cpu->count, t->sockets, t->cores, threads, total);
	return 0;
}

static int finish_cpu(struct boot_state *st, const struct scan *sc)
{
	bool cpu = sc->given[flag_index("cpu")];
	bool num_cpu = sc->given[flag_index("num-cpu")];

	if (cpu && num_cpu)
		return usage(st, "num-cpu", "cannot be combined with --cpu");
	if (!cpu)
		st->cfg->cpu.count = st->num_cpu;
	if (derive_topology(st, cpu ? "cpu" : "num-cpu"))
		return EXIT_USAGE;
	if (num_cpu)
		fprintf(st->err, "alioth: --num-cpu is deprecated, use --cpu count=%u\n",
			st->num_cpu);
	return 0;
}

/* The x86 board puts its boot structures and kernel at 16 MiB. */
#define MIN_MEMORY_SIZE (16 * MiB)

static int check_memory_size(struct boot_state *st, const char *flag, uint64_t size)
{
	if (size < MIN_MEMORY_SIZE)
		return usage(st, flag, "size must be at least 16M");
	return 0;
}

static int finish_memory(struct boot_state *st, const struct scan *sc)
{
	bool memory = sc->given[flag_index("memory")];
	size_t mem_size_idx = flag_index("mem-size");

	if (memory && sc->given[mem_size_idx])
		return usage(st, "mem-size", "cannot be combined with --memory");
	if (memory)
		return check_memory_size(st, "memory", st->cfg->mem.size);
	/* Without --memory, Alioth backs guest memory with a memfd. */
	st->cfg->mem.size = st->mem_size;
	st->cfg->mem.backend = MEM_BACKEND_MEMFD;
	if (check_memory_size(st, "mem-size", st->mem_size))
		return EXIT_USAGE;
	if (sc->given[mem_size_idx]) {
		for (size_t i = 0; i < sc->count; i++)
			if (sc->occ[i].flag == &boot_flags[mem_size_idx])
				fprintf(st->err,
					"alioth: --mem-size is deprecated, use --memory size=%s,backend=memfd\n",
					sc->occ[i].value);
	}
	return 0;
}

/* A vhost-user backend maps guest memory from file descriptors (Alioth:
 * "Guest memory is not backed by sharable file descriptors"). */
static int check_vu_memory(struct boot_state *st)
{
	const struct vm_config *cfg = st->cfg;
	const char *flag = NULL;

	for (unsigned i = 0; i < cfg->nr_blk; i++)
		if (cfg->blk[i].vu_socket)
			flag = "blk";
	for (unsigned i = 0; i < cfg->nr_net; i++)
		if (cfg->net[i].vu_socket)
			flag = "net";
	if (flag && cfg->mem.backend != MEM_BACKEND_MEMFD)
		return usage(st, flag, "vu: guest memory is not backed by sharable file descriptors; "
				       "use --memory size=...,backend=memfd");
	return 0;
}

int boot_args_parse(int argc, char **argv, struct vm_config *cfg, FILE *out, FILE *err)
{
	struct boot_state st = { .cfg = cfg, .err = err, .num_cpu = 1, .mem_size = 1 * GiB };
	struct scan sc = { .count = 0 };
	int ret;

	vm_config_init(cfg);
	if (argc <= 1) { /* like clap's arg_required_else_help */
		boot_args_help(err);
		return EXIT_USAGE;
	}
	sc.occ = xcalloc((size_t)argc, sizeof(*sc.occ));
	ret = scan_args(&st, &sc, argc, argv, out);
	if (!ret)
		ret = apply_all(&st, &sc);
	if (!ret)
		ret = check_payload(&st);
	if (!ret)
		ret = finish_cpu(&st, &sc);
	if (!ret)
		ret = finish_memory(&st, &sc);
	if (!ret)
		ret = check_vu_memory(&st);
	free(sc.occ);
	aco_objects_free(&st.objs);
	return ret;
}
