/* Help text: the layout serde-aco renders for a value type (src/cli/aco.c),
 * and `alioth --help`, `alioth help`, `alioth boot --help`, `--version`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/aco.h"
#include "cli/boot_args.h"
#include "cli/cli.h"
#include "cli/version.h"
#include "util/exit_status.h"

struct sample {
	char *name;
	int mode;
	bool flag;
	uint32_t count;
	int again;
	bool ro;
};

static const struct aco_variant mode_variants[] = {
	{ .name = "fast", .alias = "Fast", .value = 0, .doc = "Go fast." },
	{ .name = "slow", .value = 1, .doc = "Go slow." },
};
static const struct aco_enum mode_enum = ACO_TABLE("Mode", mode_variants);
static const struct aco_field inner_fields[] = {
	{ .name = "flag", .kind = ACO_BOOL, .offset = 0, .dflt = "false", .doc = "A flag." },
};
static const struct aco_struct inner_struct = ACO_TABLE("Inner", inner_fields);
static const struct aco_field sample_fields[] = {
	{ .name = "name", .kind = ACO_STRING, .offset = offsetof(struct sample, name),
	  .doc = "Name.\nSecond line." },
	{ .name = "mode", .kind = ACO_ENUM, .offset = offsetof(struct sample, mode),
	  .dflt = "fast", .doc = "How fast.", .sub_enum = &mode_enum },
	{ .name = "inner", .kind = ACO_STRUCT, .offset = offsetof(struct sample, flag),
	  .dflt = "", .doc = "Nested.", .sub_struct = &inner_struct },
	{ .name = "count", .kind = ACO_U32, .offset = offsetof(struct sample, count),
	  .dflt = "0" }, /* no doc: in the syntax line only */
	{ .name = "again", .kind = ACO_ENUM, .offset = offsetof(struct sample, again),
	  .dflt = "slow", .doc = "Mode again.", .sub_enum = &mode_enum },
};
static const struct aco_struct sample_struct = ACO_TABLE("Sample", sample_fields);
static const struct aco_field sample_root = { .kind = ACO_STRUCT, .sub_struct = &sample_struct };

static const struct aco_field file_fields[] = {
	{ .name = "path", .kind = ACO_STRING, .offset = offsetof(struct sample, name),
	  .doc = "Path." },
	{ .name = "ro", .kind = ACO_BOOL, .offset = offsetof(struct sample, ro), .dflt = "false",
	  .doc = "Read only." },
};
static const struct aco_struct file_struct = ACO_TABLE("FileShape", file_fields);
static const struct aco_variant shape_variants[] = {
	{ .name = "none", .value = 0, .doc = "Nothing." },
	{ .name = "file", .value = 1, .doc = "A file.", .payload = &file_struct },
};
static const struct aco_enum shape_enum = ACO_TABLE("Shape", shape_variants);
static const struct aco_field shape_root = {
	.kind = ACO_ENUM, .offset = offsetof(struct sample, mode), .sub_enum = &shape_enum,
};

static const struct aco_enum empty_enum = { "Empty", NULL, 0 };
static const struct aco_field empty_root = { .kind = ACO_ENUM, .sub_enum = &empty_enum };

static char *text;

static const char *render(const char *doc, const struct aco_field *root)
{
	size_t len;
	FILE *f;

	free(text);
	f = open_memstream(&text, &len);
	aco_help(f, doc, root);
	fclose(f);
	return text;
}

static void test_struct_layout(void **state)
{
	(void)state;
	assert_string_equal(render("Sample help.", &sample_root),
			    "Sample help.\n"
			    "* name=<string>,mode=<Mode>,inner=<Inner>,count=<integer>,again=<Mode>\n"
			    "  - name \tName.\n"
			    "         \tSecond line.\n"
			    "  - mode \tHow fast. [default: fast]\n"
			    "  - inner\tNested.\n"
			    "  - again\tMode again. [default: slow]\n"
			    "# Mode\n"
			    "  * fast\tGo fast.\n"
			    "  * slow\tGo slow.\n"
			    "# Inner\n"
			    "  * flag=<bool>\n"
			    "    - flag\tA flag. [default: false]");
}

static void test_enum_layout(void **state)
{
	(void)state;
	assert_string_equal(render("Pick a shape.", &shape_root),
			    "Pick a shape.\n"
			    "* none\n"
			    "  Nothing.\n"
			    "* file,path=<string>,ro=<bool>\n"
			    "  A file.\n"
			    "  - path\tPath.\n"
			    "  - ro  \tRead only. [default: false]");
	assert_string_equal(render("Nothing here.", &empty_root),
			    "Nothing here.\nNo options available");
}

static void test_help_table_also_parses(void **state)
{
	struct sample s = { 0 };
	char err[256];

	(void)state;
	/* the table rendered above is the one that parses */
	assert_int_equal(aco_parse(&sample_root, "name=n,mode=Fast,inner=flag=on,again=fast", &s,
				   NULL, err, sizeof(err)), 0);
	assert_string_equal(s.name, "n");
	assert_true(s.flag);
	assert_int_equal(s.again, 0);
	free(s.name);
}

static char *out_text, *err_text;

static int cli(int argc, char **argv)
{
	size_t len;
	FILE *out, *err;
	int ret;

	free(out_text);
	free(err_text);
	out = open_memstream(&out_text, &len);
	err = open_memstream(&err_text, &len);
	ret = cli_main(argc, argv, out, err, NULL);
	fclose(out);
	fclose(err);
	return ret;
}

#define CLI(...)                                                               \
	({                                                                     \
		char *argv_[] = { "alioth", __VA_ARGS__ };                     \
		cli((int)(sizeof(argv_) / sizeof(argv_[0])), argv_);           \
	})

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("help lacks \"%s\"", needle);
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_boot_help_lists_everything(void **state)
{
	static const char *const wanted[] = {
		/* every flag of Alioth's BootArgs */
		"      --hypervisor <HV>\n", "  -k, --kernel <PATH>\n", "      --pvh <PATH>\n",
		"  -f, --firmware <PATH>\n", "  -c, --cmdline <ARGS>\n", "[alias: --cmd-line]",
		"  -i, --initramfs <PATH>\n", "      --num-cpu <NUM_CPU>\n", "  -p, --cpu <CPU>\n",
		"      --mem-size <MEM_SIZE>\n", "  -m, --memory <MEMORY>\n", "      --pvpanic\n",
		"      --fw-cfg <ITEM>\n", "      --entropy\n", "      --net <NET>\n",
		"      --blk <BLK>\n", "      --coco <COCO>\n", "      --fs <FS>\n",
		"      --vsock <VSOCK>\n", "      --console <CONSOLE>\n",
		"      --vfio-cdev <VFIO_CDEV>\n", "      --vfio-ioas <VFIO_IOAS>\n",
		"      --vfio-group <VFIO_GROUP>\n", "      --vfio-container <VFIO_CONTAINER>\n",
		"      --balloon <BALLOON>\n", "  -o, --object <OBJECT>\n", "  -h, --help\n",
		/* fields, variants and defaults of each value type */
		"* kvm,dev_kvm=<string>,dev_sev=<string>\n", "[default: /dev/kvm]",
		"* count=<integer>,topology=<CpuTopology>\n", "- count   \t", "[default: 1]",
		"# CpuTopology\n",
		"* smt=<bool>,cores=<integer>,sockets=<integer>,thread_contiguous=<bool>\n",
		"- thread_contiguous\t",
		"* size=<integer>,backend=<MemBackend>,shared=<bool>,thp=<bool>\n",
		"[default: 1G]", "[default: anon]", "# MemBackend\n", "* anon \t", "* memfd\t",
		"* stdio\n", "* log,path=<string>,append=<bool>\n", "- append\t",
		"* <id>,<value>\n",
	};

	(void)state;
	assert_int_equal(CLI("boot", "--help"), EXIT_POWEROFF);
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		assert_contains(out_text, wanted[i]);
	assert_int_equal(count_of(out_text, "(not supported yet)"), 8); /* --blk/--net vu are supported */
	assert_string_equal(err_text, "");
	/* `help boot` and `run -h` print the same text */
	char *boot_help = strdup(out_text);
	assert_int_equal(CLI("help", "boot"), 0);
	assert_string_equal(out_text, boot_help);
	assert_int_equal(CLI("run", "-h"), 0);
	assert_string_equal(out_text, boot_help);
	free(boot_help);
}

static void test_top_level_help_and_version(void **state)
{
	(void)state;
	assert_int_equal(CLI("--help"), 0);
	assert_contains(out_text, "Usage: alioth [OPTIONS] <COMMAND>\n");
	assert_contains(out_text, "  boot  ");
	assert_contains(out_text, "  vu    ");
	assert_contains(out_text, "  img   ");
	assert_contains(out_text, "  -l, --log-spec <SPEC>\n");
	assert_contains(out_text, "      --log-dir <PATH>\n");
	assert_contains(out_text, "      --log-file <NAME>\n");
	assert_contains(out_text, "  -V, --version\n");
	char *top = strdup(out_text);
	assert_int_equal(CLI("help"), 0);
	assert_string_equal(out_text, top);
	assert_int_equal(CLI("-h"), 0);
	assert_string_equal(out_text, top);
	free(top);

	assert_int_equal(CLI("--version"), 0);
	assert_string_equal(out_text, "alioth " ALIOTH_VERSION "\n");
	assert_string_equal(ALIOTH_VERSION, "0.1.0");
	assert_int_equal(CLI("-V"), 0);
	assert_string_equal(out_text, "alioth " ALIOTH_VERSION "\n");
	assert_string_equal(err_text, "");

	assert_int_equal(CLI("help", "vu", "fs"), EXIT_USAGE);
	assert_string_equal(err_text, "alioth: help vu: 'fs' is not supported yet\n");
	assert_int_equal(CLI("help", "vu", "net"), 0);
	assert_contains(out_text, "Usage: alioth vu --socket <PATH> net [OPTIONS] --param <PARAM>\n");
	assert_contains(out_text, "* mac=<string>,mtu=<integer>,qp=<integer>,tap=<string>,if=<string>");
	assert_int_equal(CLI("vu", "-s", "x.sock", "net", "-h"), 0);
	assert_contains(out_text, "VirtIO net device backed by TUN/TAP, MacVTap, or IPVTap.\n");
}

static int teardown(void **state)
{
	(void)state;
	free(text);
	free(out_text);
	free(err_text);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_layout),
		cmocka_unit_test(test_enum_layout),
		cmocka_unit_test(test_help_table_also_parses),
		cmocka_unit_test(test_boot_help_lists_everything),
		cmocka_unit_test(test_top_level_help_and_version),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
