#include "img/img_cli.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "img/img.h"
#include "util/exit_status.h"

#define EXIT_FAILED 1

struct convert_args {
	const char *source_format;
	const char *target_format;
	const char *input;
	const char *output;
};

/* A value flag of `img convert`. */
struct img_flag {
	char short_name;
	const char *name;
	const char *value_name;
	size_t offset;
};

static const struct img_flag convert_flags[] = {
	{ 'f', "source-format", "SOURCE_FORMAT", offsetof(struct convert_args, source_format) },
	{ 'O', "target-format", "TARGET_FORMAT", offsetof(struct convert_args, target_format) },
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

void img_help(FILE *out)
{
	fputs("Manipulate disk images.\n"
	      "\n"
	      "Usage: alioth img <COMMAND>\n"
	      "\n"
	      "Commands:\n"
	      "  convert  Convert an image from one format to another.\n"
	      "  info     Show the format, sizes and allocation of an image.\n"
	      "  help     Print this message or the help of the given subcommand(s)\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help  Print help\n", out);
}

static void convert_help(FILE *out)
{
	fputs("Convert an image from one format to another.\n"
	      "\n"
	      "Usage: alioth img convert [OPTIONS] <INPUT> <OUTPUT>\n"
	      "\n"
	      "Arguments:\n"
	      "  <INPUT>   Input file\n"
	      "  <OUTPUT>  Output file\n"
	      "\n"
	      "Options:\n"
	      "  -f, --source-format <SOURCE_FORMAT>  Input file format [default: qcow2]\n"
	      "  -O, --target-format <TARGET_FORMAT>  Output file format [default: raw]\n"
	      "  -h, --help                           Print help\n"
	      "\n"
	      "Formats are qcow2 and raw; qcow2 to raw and raw to qcow2 are supported.\n", out);
}

static void info_help(FILE *out)
{
	fputs("Show the format, sizes and allocation of an image.\n"
	      "\n"
	      "Usage: alioth img info <FILE>\n"
	      "\n"
	      "Arguments:\n"
	      "  <FILE>  Image file (qcow2, or raw for anything else)\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help  Print help\n", out);
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* Matches arg against flag in any of the forms -f V, -fV, -f=V, --name V and
 * --name=V. Returns 1 if matched (value stored), 0 if not, or EXIT_USAGE. */
static int match_flag(const struct img_flag *flag, int argc, char **argv, int *i,
		      struct convert_args *a, FILE *err)
{
	const char *arg = argv[*i];
	const char **slot = (const char **)((char *)a + flag->offset);
	size_t n = strlen(flag->name);
	const char *value = NULL;

	if (!strncmp(arg, "--", 2) && !strncmp(arg + 2, flag->name, n) &&
	    (arg[2 + n] == '=' || !arg[2 + n]))
		value = arg[2 + n] ? arg + 3 + n : NULL;
	else if (arg[0] == '-' && arg[1] == flag->short_name)
		value = arg[2] ? (arg[2] == '=' ? arg + 3 : arg + 2) : NULL;
	else
		return 0;
	if (!value) {
		if (*i + 1 >= argc)
			return usage(err, "img convert", "a value is required for '--%s <%s>'",
				     flag->name, flag->value_name);
		value = argv[++*i];
	}
	if (*slot)
		return usage(err, "img convert", "the argument '--%s' cannot be used multiple times",
			     flag->name);
	*slot = value;
	return 1;
}

static int parse_format(const char *value, const char *flag, enum img_format *fmt, FILE *err)
{
	/* Alioth's variant names and their lower-case aliases */
	if (!strcmp(value, "qcow2") || !strcmp(value, "Qcow2"))
		*fmt = IMG_QCOW2;
	else if (!strcmp(value, "raw") || !strcmp(value, "Raw"))
		*fmt = IMG_RAW;
	else
		return usage(err, "img convert", "--%s: unknown format '%s' (expected qcow2 or raw)",
			     flag, value);
	return 0;
}

static int parse_convert_option(int argc, char **argv, int *i, struct convert_args *a,
				FILE *err)
{
	for (size_t k = 0; k < sizeof(convert_flags) / sizeof(convert_flags[0]); k++) {
		int r = match_flag(&convert_flags[k], argc, argv, i, a, err);

		if (r)
			return r == 1 ? 0 : r;
	}
	return usage(err, "img convert", "unexpected argument '%s' (see 'alioth img convert --help')",
		     argv[*i]);
}

static int parse_convert(int argc, char **argv, struct convert_args *a, FILE *out, FILE *err)
{
	bool options_done = false;
	const char **positional[] = { &a->input, &a->output };
	size_t npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_done && !strcmp(arg, "--")) {
			options_done = true;
		} else if (!options_done && is_help(arg)) {
			convert_help(out);
			return -1;
		} else if (!options_done && arg[0] == '-' && arg[1]) {
			int ret = parse_convert_option(argc, argv, &i, a, err);

			if (ret)
				return ret;
		} else if (npos < 2) {
			*positional[npos++] = arg;
		} else {
			return usage(err, "img convert", "unexpected argument '%s'", arg);
		}
	}
	if (npos < 2)
		return usage(err, "img convert", "the required argument <%s> was not provided",
			     npos == 0 ? "INPUT" : "OUTPUT");
	return 0;
}

static int run_convert(int argc, char **argv, FILE *out, FILE *err)
{
	struct convert_args a = { NULL, NULL, NULL, NULL };
	enum img_format from, to;
	char reason[1536];
	int ret = parse_convert(argc, argv, &a, out, err);

	if (ret)
		return ret < 0 ? EXIT_POWEROFF : ret;
	if (parse_format(a.source_format ? a.source_format : "qcow2", "source-format", &from, err) ||
	    parse_format(a.target_format ? a.target_format : "raw", "target-format", &to, err))
		return EXIT_USAGE;
	if (from == to)
		return usage(err, "img convert", "converting from %s to %s is not supported",
			     img_format_name(from), img_format_name(to));
	if (img_convert(a.input, from, a.output, to, reason, sizeof(reason)) < 0) {
		fprintf(err, "alioth: img convert: %s\n", reason);
		return EXIT_FAILED;
	}
	return 0;
}

static int run_info(int argc, char **argv, FILE *out, FILE *err)
{
	const char *path = NULL;
	char reason[1536];

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			info_help(out);
			return 0;
		}
		if ((argv[i][0] == '-' && argv[i][1]) || path)
			return usage(err, "img info", "unexpected argument '%s'", argv[i]);
		path = argv[i];
	}
	if (!path)
		return usage(err, "img info", "the required argument <FILE> was not provided");
	if (img_info(path, out, reason, sizeof(reason)) < 0) {
		fflush(out);
		fprintf(err, "alioth: img info: %s\n", reason);
		return EXIT_FAILED;
	}
	return 0;
}

static int run_help(int argc, char **argv, FILE *out, FILE *err)
{
	if (argc < 2) {
		img_help(out);
		return 0;
	}
	if (!strcmp(argv[1], "convert"))
		convert_help(out);
	else if (!strcmp(argv[1], "info"))
		info_help(out);
	else if (!strcmp(argv[1], "help"))
		img_help(out);
	else
		return usage(err, "img", "unrecognized subcommand '%s'", argv[1]);
	return 0;
}

int img_help_main(int argc, char **argv, FILE *out, FILE *err)
{
	return run_help(argc, argv, out, err);
}

int img_main(int argc, char **argv, FILE *out, FILE *err)
{
	if (argc < 2) { /* as clap does: help on stderr */
		img_help(err);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	if (is_help(argv[0])) {
		img_help(out);
		return 0;
	}
	if (!strcmp(argv[0], "convert"))
		return run_convert(argc, argv, out, err);
	if (!strcmp(argv[0], "info"))
		return run_info(argc, argv, out, err);
	if (!strcmp(argv[0], "help"))
		return run_help(argc, argv, out, err);
	return usage(err, "img", "unrecognized subcommand '%s' (see 'alioth img --help')", argv[0]);
}
