#include "cli/cli.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/boot_args.h"
#include "cli/version.h"
#include "img/img_cli.h"
#include "util/exit_status.h"
#include "util/log.h"
#include "vhost/vu_cli.h"

struct globals {
	const char *log_spec;
	const char *log_dir;
	const char *log_file;
};

__attribute__((format(printf, 2, 3)))
static int usage(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("alioth: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return EXIT_USAGE;
}

void cli_help(FILE *out)
{
	fputs("Alioth, a KVM virtual machine monitor (C implementation).\n"
	      "\n"
	      "Usage: alioth [OPTIONS] <COMMAND>\n"
	      "\n"
	      "Commands:\n"
	      "  boot  Create and boot a virtual machine. [alias: run]\n"
	      "  vu    Start a vhost-user backend device.\n"
	      "  img   Manipulate disk images.\n"
	      "  help  Print this message or the help of the given subcommand(s)\n"
	      "\n"
	      "Options:\n"
	      "  -l, --log-spec <SPEC>\n"
	      "          Log level: error, warn, info, debug, trace or off. If not set,\n"
	      "          $ALIOTH_LOG, then $RUST_LOG, is used. [default: warn]\n"
	      "\n"
	      "      --log-dir <PATH>\n"
	      "          Directory for the log file; without it, logs go to STDERR.\n"
	      "\n"
	      "      --log-file <NAME>\n"
	      "          Name of the log file inside --log-dir; a default name is used\n"
	      "          if not set.\n"
	      "\n"
	      "  -h, --help\n"
	      "          Print help\n"
	      "\n"
	      "  -V, --version\n"
	      "          Print version\n", out);
}

/* Matches "-l", "--log-spec", "-lSPEC", "-l=SPEC", "--log-spec=SPEC" and
 * "--log-spec SPEC"; returns 1 with *value set, 0 if arg is another option,
 * or EXIT_USAGE (+1 to stay distinct) when the value is missing. */
static int global_value(FILE *err, char short_name, const char *long_name, int argc,
			char **argv, int *i, const char **value)
{
	const char *arg = argv[*i];
	size_t n = strlen(long_name);

	if (!strncmp(arg, "--", 2) && !strncmp(arg + 2, long_name, n) &&
	    (arg[2 + n] == '=' || arg[2 + n] == '\0')) {
		if (arg[2 + n] == '=') {
			*value = arg + 3 + n;
			return 1;
		}
	} else if (short_name && arg[0] == '-' && arg[1] == short_name) {
		if (arg[2]) {
			*value = arg[2] == '=' ? arg + 3 : arg + 2;
			return 1;
		}
	} else {
		return 0;
	}
	if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1])) {
		usage(err, "--%s: a value is required", long_name);
		return -1;
	}
	*value = argv[++*i];
	return 1;
}

/* Parses the options before the subcommand; returns the index of the
 * subcommand, or a negative exit status (-status) if nothing is to run. */
static int parse_globals(int argc, char **argv, struct globals *g, FILE *out, FILE *err)
{
	static const struct {
		char short_name;
		const char *name;
		size_t offset;
	} opts[] = {
		{ 'l', "log-spec", offsetof(struct globals, log_spec) },
		{ 0, "log-dir", offsetof(struct globals, log_dir) },
		{ 0, "log-file", offsetof(struct globals, log_file) },
	};
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *arg = argv[i];
		bool matched = false;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			cli_help(out);
			return -EXIT_POWEROFF;
		}
		if (!strcmp(arg, "-V") || !strcmp(arg, "--version")) {
			fprintf(out, "alioth %s\n", ALIOTH_VERSION);
			return -EXIT_POWEROFF;
		}
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]) && !matched; k++) {
			const char **slot = (const char **)((char *)g + opts[k].offset);
			int r = global_value(err, opts[k].short_name, opts[k].name, argc, argv, &i,
					     slot);
			if (r < 0)
				return -EXIT_USAGE;
			matched = r == 1;
		}
		if (!matched) {
			usage(err, "unexpected argument '%s' (see 'alioth --help')", arg);
			return -EXIT_USAGE;
		}
	}
	return i;
}

static int start_logging(const struct globals *g, FILE *err)
{
	static const char *const env_vars[] = { "ALIOTH_LOG", "RUST_LOG" };
	enum log_level level = LOG_WARN;

	if (g->log_file && !g->log_dir)
		return usage(err, "--log-file: requires --log-dir");
	if (g->log_spec) {
		if (!log_parse_spec(g->log_spec, &level))
			return usage(err,
				     "--log-spec: invalid spec '%s' (expected one of: error, warn, info, debug, trace, off)",
				     g->log_spec);
	} else {
		for (size_t k = 0; k < 2; k++) {
			const char *spec = getenv(env_vars[k]);
			if (!spec)
				continue;
			/* The environment may be meant for other tools: warn, don't fail. */
			if (!log_parse_spec(spec, &level))
				fprintf(err, "alioth: ignoring $%s='%s': not a log level\n",
					env_vars[k], spec);
			break;
		}
	}
	if (log_init(level, g->log_dir, g->log_file) < 0)
		return EXIT_VMM_ERROR;
	return 0;
}

static int run_boot(int argc, char **argv, FILE *out, FILE *err, cli_run_fn run)
{
	struct vm_config cfg;
	int ret = boot_args_parse(argc, argv, &cfg, out, err);

	if (ret == BOOT_ARGS_HELP)
		ret = EXIT_POWEROFF;
	else if (ret == 0)
		ret = run(&cfg);
	vm_config_free(&cfg);
	return ret;
}

static bool is_boot(const char *cmd)
{
	return !strcmp(cmd, "boot") || !strcmp(cmd, "run");
}

static int run_help(int argc, char **argv, FILE *out, FILE *err)
{
	if (argc < 2) {
		cli_help(out);
		return EXIT_POWEROFF;
	}
	if (is_boot(argv[1])) {
		boot_args_help(out);
		return EXIT_POWEROFF;
	}
	if (!strcmp(argv[1], "img"))
		return img_help_main(argc - 1, argv + 1, out, err);
	if (!strcmp(argv[1], "vu"))
		return vu_help_main(argc - 1, argv + 1, out, err);
	return usage(err, "unrecognized subcommand '%s'", argv[1]);
}

int cli_main(int argc, char **argv, FILE *out, FILE *err, cli_run_fn run)
{
	struct globals g = { NULL, NULL, NULL };
	int cmd = parse_globals(argc, argv, &g, out, err);
	int ret;

	if (cmd <= 0)
		return -cmd;
	if (cmd >= argc) { /* clap prints help to stderr when no subcommand is given */
		cli_help(err);
		return EXIT_USAGE;
	}
	ret = start_logging(&g, err);
	if (ret)
		return ret;
	log_debug("alioth %s started", ALIOTH_VERSION);
	argc -= cmd;
	argv += cmd;
	if (is_boot(argv[0]))
		return run_boot(argc, argv, out, err, run);
	if (!strcmp(argv[0], "help"))
		return run_help(argc, argv, out, err);
	if (!strcmp(argv[0], "img"))
		return img_main(argc, argv, out, err);
	if (!strcmp(argv[0], "vu"))
		return vu_main(argc, argv, out, err);
	return usage(err, "unrecognized subcommand '%s'", argv[0]);
}
