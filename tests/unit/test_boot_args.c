/* `alioth boot` flags end to end (src/cli/boot_args.c, src/cli/cli.c):
 * parsed vm_config values, Alioth's topology derivation, deprecated and
 * unsupported flags, objects, and the one-line usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "board/config.h"
#include "cli/boot_args.h"
#include "cli/cli.h"
#include "util/exit_status.h"

struct result {
	int ret;
	struct vm_config cfg;
	char *out;
	char *err;
};

static struct result res;

static void reset(void)
{
	vm_config_free(&res.cfg);
	free(res.out);
	free(res.err);
	memset(&res, 0, sizeof(res));
}

static int boot_argv(int argc, char **argv)
{
	size_t out_len, err_len;
	FILE *out, *err;

	reset();
	out = open_memstream(&res.out, &out_len);
	err = open_memstream(&res.err, &err_len);
	res.ret = boot_args_parse(argc, argv, &res.cfg, out, err);
	fclose(out);
	fclose(err);
	return res.ret;
}

#define BOOT(...)                                                              \
	({                                                                     \
		char *argv_[] = { "boot", __VA_ARGS__ };                       \
		boot_argv((int)(sizeof(argv_) / sizeof(argv_[0])), argv_);     \
	})

/* A usage error is exactly one line on stderr and exit status 2. */
static void assert_usage(const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "%s\n", line);
	assert_int_equal(res.ret, EXIT_USAGE);
	assert_string_equal(res.err, want);
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(BOOT("-k", "vmlinuz"), 0);
	assert_string_equal(res.cfg.kernel, "vmlinuz");
	assert_null(res.cfg.pvh);
	assert_null(res.cfg.firmware);
	assert_null(res.cfg.cmdline);
	assert_null(res.cfg.initramfs);
	assert_null(res.cfg.dev_kvm);
	assert_int_equal(res.cfg.mem.size, 1ULL << 30);
	/* Alioth's effective backend without --memory */
	assert_int_equal(res.cfg.mem.backend, MEM_BACKEND_MEMFD);
	assert_false(res.cfg.mem.shared);
	assert_false(res.cfg.mem.thp);
	assert_int_equal(res.cfg.cpu.count, 1);
	assert_int_equal(res.cfg.cpu.topology.sockets, 1);
	assert_int_equal(res.cfg.cpu.topology.cores, 1);
	assert_false(res.cfg.cpu.topology.smt);
	assert_int_equal(res.cfg.console.kind, CONSOLE_STDIO);
	assert_false(res.cfg.pvpanic);
	assert_false(res.cfg.entropy);
	assert_string_equal(res.err, ""); /* no nagging without deprecated flags */
}

static void test_every_supported_flag(void **state)
{
	(void)state;
	assert_int_equal(BOOT("--hypervisor", "kvm,dev_kvm=/dev/pvm", "--kernel=bz",
			      "--cmdline", "console=ttyS0 a=b,c", "--initramfs", "initrd.cpio",
			      "--cpu", "count=16,topology=id_topo", "--memory",
			      "size=128G,backend=anon,shared=true", "--console",
			      "log,path=/tmp/console.log,append=on", "-o",
			      "id_topo,smt=true,sockets=1,cores=8"), 0);
	assert_string_equal(res.cfg.dev_kvm, "/dev/pvm");
	assert_string_equal(res.cfg.kernel, "bz");
	assert_string_equal(res.cfg.cmdline, "console=ttyS0 a=b,c");
	assert_string_equal(res.cfg.initramfs, "initrd.cpio");
	assert_int_equal(res.cfg.cpu.count, 16);
	assert_true(res.cfg.cpu.topology.smt);
	assert_int_equal(res.cfg.cpu.topology.cores, 8);
	assert_int_equal(res.cfg.cpu.topology.sockets, 1);
	assert_false(res.cfg.cpu.topology.thread_contiguous);
	assert_int_equal(res.cfg.mem.size, 128ULL << 30);
	assert_int_equal(res.cfg.mem.backend, MEM_BACKEND_ANON);
	assert_true(res.cfg.mem.shared);
	assert_int_equal(res.cfg.console.kind, CONSOLE_LOG);
	assert_string_equal(res.cfg.console.path, "/tmp/console.log");
	assert_true(res.cfg.console.append);
	assert_string_equal(res.err, "");
}

/* Alioth's three --blk spellings, our packed/num_queues extensions, and errors. */
static void test_blk_forms(void **state)
{
	(void)state;
	assert_int_equal(BOOT("-k", "k", "--blk", "file,path=a.img,readonly=true,api=iouring",
			      "--blk", "path=b.img", "--blk", "file,path=c.img,packed=false,num_queues=2"), 0);
	assert_int_equal(res.cfg.nr_blk, 3);
	assert_string_equal(res.cfg.blk[0].path, "a.img");
	assert_true(res.cfg.blk[0].readonly);
	assert_int_equal(res.cfg.blk[0].api, BLK_ENGINE_IOURING);
	assert_true(res.cfg.blk[0].packed);
	assert_string_equal(res.cfg.blk[1].path, "b.img");
	assert_false(res.cfg.blk[1].readonly);
	assert_true(res.cfg.blk[1].packed);
	assert_false(res.cfg.blk[2].packed);
	assert_int_equal(res.cfg.blk[2].num_queues, 2);
	assert_string_equal(res.err, "");

	assert_int_equal(BOOT("-k", "k", "--blk", "/disks/d.img"), 0);
	assert_string_equal(res.cfg.blk[0].path, "/disks/d.img");
	assert_true(res.cfg.blk[0].packed);
	assert_int_equal(res.cfg.blk[0].api, BLK_ENGINE_MIO);
	assert_string_equal(res.err, "alioth: --blk PATH is deprecated, use --blk file,path=/disks/d.img\n");

	BOOT("-k", "k", "--blk", "file,path=a.img,num_queues=9");
	assert_usage("alioth: --blk: num_queues: at most 8");
	/* vhost-user: the backend maps guest memory, so it must be a memfd */
	assert_int_equal(BOOT("-k", "k", "--blk", "vu,socket=/s", "--net", "vu,socket=/n",
			      "--memory", "size=1G,backend=memfd"), 0);
	assert_string_equal(res.cfg.blk[0].vu_socket, "/s");
	assert_null(res.cfg.blk[0].path);
	assert_string_equal(res.cfg.net[0].vu_socket, "/n");
	assert_int_equal(BOOT("-k", "k", "--blk", "vu,socket=/s"), 0); /* memfd by default */
	BOOT("-k", "k", "--blk", "vu,socket=/s", "--memory", "size=1G");
	assert_usage("alioth: --blk: vu: guest memory is not backed by sharable file descriptors; "
		     "use --memory size=...,backend=memfd");
	BOOT("-k", "k", "--net", "vu,socket=/n", "--memory", "size=1G,backend=anon");
	assert_usage("alioth: --net: vu: guest memory is not backed by sharable file descriptors; "
		     "use --memory size=...,backend=memfd");
}

static void test_short_and_alias_spellings(void **state)
{
	(void)state;
	assert_int_equal(BOOT("-kbz", "-c=quiet", "-i", "rd", "-p", "count=2", "-m",
			      "size=2g,backend=memfd,transparent_hugepage=on"), 0);
	assert_string_equal(res.cfg.kernel, "bz");
	assert_string_equal(res.cfg.cmdline, "quiet");
	assert_string_equal(res.cfg.initramfs, "rd");
	assert_int_equal(res.cfg.cpu.count, 2);
	assert_int_equal(res.cfg.cpu.topology.cores, 2);
	assert_int_equal(res.cfg.mem.backend, MEM_BACKEND_MEMFD);
	assert_true(res.cfg.mem.thp);
	assert_int_equal(BOOT("--pvh", "vmlinux", "--cmd-line", "a=1", "--memory=size=64m",
			      "--console=stdio"), 0);
	assert_string_equal(res.cfg.pvh, "vmlinux");
	assert_null(res.cfg.kernel);
	assert_string_equal(res.cfg.cmdline, "a=1");
	assert_int_equal(res.cfg.mem.size, 64ULL << 20);
	assert_int_equal(res.cfg.mem.backend, MEM_BACKEND_ANON); /* MemSpec's own default */
	assert_int_equal(res.cfg.console.kind, CONSOLE_STDIO);
}

static void test_topology_derivation(void **state)
{
	(void)state;
	/* Alioth's boot tests: explicit topology, and derivation from count */
	assert_int_equal(BOOT("-k", "k", "--cpu", "count=16,topology=id_t", "-o",
			      "id_t,cores=8,sockets=2,smt=false"), 0);
	assert_int_equal(res.cfg.cpu.topology.cores, 8);
	assert_int_equal(res.cfg.cpu.topology.sockets, 2);
	assert_int_equal(BOOT("-k", "k", "--cpu", "count=16"), 0);
	assert_int_equal(res.cfg.cpu.topology.cores, 16);
	assert_int_equal(res.cfg.cpu.topology.sockets, 1);
	assert_int_equal(BOOT("-k", "k", "--cpu", "count=8,topology=smt=on"), 0);
	assert_int_equal(res.cfg.cpu.topology.cores, 4);
	assert_int_equal(BOOT("-k", "k", "--cpu", "count=12,topology=id_t", "-o",
			      "id_t,sockets=2,smt=on,thread_contiguous=on"), 0);
	assert_int_equal(res.cfg.cpu.topology.cores, 3);
	assert_true(res.cfg.cpu.topology.thread_contiguous);
}

static void test_topology_errors(void **state)
{
	(void)state;
	BOOT("-k", "k", "--cpu", "count=3,topology=smt=on");
	assert_usage("alioth: --cpu: count=3 does not match the topology: 1 socket(s) x 1 core(s) x 2 thread(s) = 2");
	BOOT("-k", "k", "--cpu", "count=6,topology=sockets=4");
	assert_usage("alioth: --cpu: count=6 does not match the topology: 4 socket(s) x 1 core(s) x 1 thread(s) = 4");
	BOOT("-k", "k", "--cpu", "count=1,topology=smt=on");
	assert_usage("alioth: --cpu: count=1 does not match the topology: 1 socket(s) x 0 core(s) x 2 thread(s) = 0");
	BOOT("-k", "k", "--cpu", "count=4,topology=id_t", "-o", "id_t,cores=3");
	assert_usage("alioth: --cpu: count=4 does not match the topology: 1 socket(s) x 3 core(s) x 1 thread(s) = 3");
	BOOT("-k", "k", "--cpu", "count=0");
	assert_usage("alioth: --cpu: count must be at least 1");
	BOOT("-k", "k", "--num-cpu", "0");
	assert_usage("alioth: --num-cpu: count must be at least 1");
	BOOT("-k", "k", "--cpu", "count=70000");
	assert_usage("alioth: --cpu: count: '70000' is out of range (max 65535)");
	BOOT("-k", "k", "--cpu", "count=2,topology=sockets=256");
	assert_usage("alioth: --cpu: topology.sockets: '256' is out of range (max 255)");
}

static void test_memory_too_small(void **state)
{
	(void)state;
	BOOT("-k", "k", "--memory", "size=8M");
	assert_usage("alioth: --memory: size must be at least 16M");
	BOOT("-k", "k", "--mem-size", "1k");
	assert_usage("alioth: --mem-size: size must be at least 16M");
	BOOT("-k", "k", "--memory", "size=16M");
	assert_int_equal(res.ret, 0);
}

static void test_deprecated_flags(void **state)
{
	(void)state;
	assert_int_equal(BOOT("-k", "k", "--num-cpu", "4"), 0);
	assert_int_equal(res.cfg.cpu.count, 4);
	assert_int_equal(res.cfg.cpu.topology.cores, 4);
	assert_string_equal(res.err, "alioth: --num-cpu is deprecated, use --cpu count=4\n");
	assert_int_equal(BOOT("-k", "k", "--mem-size=2G"), 0);
	assert_int_equal(res.cfg.mem.size, 2ULL << 30);
	assert_int_equal(res.cfg.mem.backend, MEM_BACKEND_MEMFD);
	assert_string_equal(res.err,
			    "alioth: --mem-size is deprecated, use --memory size=2G,backend=memfd\n");
	BOOT("-k", "k", "--mem-size", "2x");
	assert_usage("alioth: --mem-size: expected an integer, got '2x'");
	BOOT("-k", "k", "--num-cpu", "2", "--cpu", "count=2");
	assert_usage("alioth: --num-cpu: cannot be combined with --cpu");
	BOOT("-k", "k", "--mem-size", "1G", "--memory", "size=1G");
	assert_usage("alioth: --mem-size: cannot be combined with --memory");
}

static void test_unsupported_flags(void **state)
{
	static const char *const flags[] = {
		"--coco", "--fs", "--vsock",
		"--vfio-cdev", "--vfio-ioas", "--vfio-group", "--vfio-container", "--balloon",
	};
	char line[128];

	(void)state;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		BOOT("-k", "k", (char *)flags[i], "x");
		snprintf(line, sizeof(line), "alioth: %s: not supported yet", flags[i]);
		assert_usage(line);
	}
	BOOT("-k", "k", "--hypervisor", "kvm,dev_sev=/dev/sev");
	assert_usage("alioth: --hypervisor: dev_sev: not supported yet");
}

static void test_payload_rules(void **state)
{
	(void)state;
	BOOT("-c", "console=ttyS0");
	assert_usage("alioth: no kernel to boot: give -k/--kernel PATH or --pvh PATH");
	BOOT("-k", "a", "--pvh", "b");
	assert_usage("alioth: -k/--kernel, --pvh and -f/--firmware exclude each other");
}

static void test_objects(void **state)
{
	(void)state;
	/* an object may be defined after the flag that uses it */
	assert_int_equal(BOOT("-k", "k", "--console", "log,path=id_p", "-o", "id_p,/a,b=c.log"), 0);
	assert_string_equal(res.cfg.console.path, "/a,b=c.log");
	BOOT("-k", "k", "--console", "log,path=id_p");
	assert_usage("alioth: --console: path: unknown object 'id_p' (define it with -o id_p,VALUE)");
	BOOT("-k", "k", "-o", "topo,smt=on");
	assert_usage("alioth: --object: invalid object id 'topo': it must start with 'id_'");
	BOOT("-k", "k", "-o", "id_a,1", "--object=id_a,2");
	assert_usage("alioth: --object: object 'id_a' defined more than once");
	/* an empty object makes an optional value absent */
	assert_int_equal(BOOT("-k", "k", "--hypervisor", "kvm,dev_kvm=id_none", "-o", "id_none"), 0);
	assert_null(res.cfg.dev_kvm);
}

static void test_value_errors(void **state)
{
	(void)state;
	BOOT("-k", "k", "--memory", "sise=1G");
	assert_usage("alioth: --memory: unknown key 'sise' (expected one of: size, backend, shared, thp)");
	BOOT("-k", "k", "--memory", "backend=hugetlb");
	assert_usage("alioth: --memory: backend: unknown variant 'hugetlb' (expected one of: anon, memfd)");
	BOOT("-k", "k", "--memory", "thp=on,transparent_hugepage=off");
	assert_usage("alioth: --memory: key 'thp' given more than once");
	BOOT("-k", "k", "--memory", "shared=yes");
	assert_usage("alioth: --memory: shared: expected true, false, on or off, got 'yes'");
	BOOT("-k", "k", "--console", "log");
	assert_usage("alioth: --console: missing key 'path'");
	BOOT("-k", "k", "--console", "tty");
	assert_usage("alioth: --console: unknown variant 'tty' (expected one of: stdio, log)");
	BOOT("-k", "k", "--hypervisor", "hvf");
	assert_usage("alioth: --hypervisor: unknown variant 'hvf' (expected one of: kvm)");
	BOOT("-k", "k", "--cpu", "count");
	assert_usage("alioth: --cpu: expected key=value, got 'count'");
}

static void test_flag_syntax_errors(void **state)
{
	(void)state;
	BOOT("-k", "k", "--kernal", "x");
	assert_usage("alioth: unexpected argument '--kernal' (see 'alioth boot --help')");
	BOOT("-k", "k", "-z");
	assert_usage("alioth: unexpected argument '-z' (see 'alioth boot --help')");
	BOOT("-k", "k", "stray");
	assert_usage("alioth: unexpected argument 'stray' (see 'alioth boot --help')");
	BOOT("-k");
	assert_usage("alioth: --kernel: a value <PATH> is required");
	BOOT("--kernel", "--pvh", "x");
	assert_usage("alioth: --kernel: a value <PATH> is required");
	BOOT("-k", "a", "--kernel", "b");
	assert_usage("alioth: --kernel: given more than once");
	BOOT("-k", "a", "--cmdline", "x", "--cmd-line", "y");
	assert_usage("alioth: --cmdline: given more than once");
}

static void test_help(void **state)
{
	(void)state;
	assert_int_equal(BOOT("-k", "k", "--help"), BOOT_ARGS_HELP);
	assert_non_null(strstr(res.out, "Usage: alioth boot [OPTIONS]"));
	assert_string_equal(res.err, "");
	assert_int_equal(BOOT("-h"), BOOT_ARGS_HELP);
	/* like clap's arg_required_else_help: no flags at all is a usage error */
	char *argv[] = { "boot" };
	assert_int_equal(boot_argv(1, argv), EXIT_USAGE);
	assert_non_null(strstr(res.err, "Usage: alioth boot [OPTIONS]"));
	assert_string_equal(res.out, "");
}

/* ---- the whole command line, with a stand-in for the machine ---- */

static struct vm_config seen;
static int runs;

static int fake_run(const struct vm_config *cfg)
{
	runs++;
	seen.cpu = cfg->cpu;
	seen.mem = cfg->mem;
	return 42;
}

static int cli(int argc, char **argv)
{
	size_t out_len, err_len;
	FILE *out, *err;

	reset();
	out = open_memstream(&res.out, &out_len);
	err = open_memstream(&res.err, &err_len);
	res.ret = cli_main(argc, argv, out, err, fake_run);
	fclose(out);
	fclose(err);
	return res.ret;
}

#define CLI(...)                                                               \
	({                                                                     \
		char *argv_[] = { "alioth", __VA_ARGS__ };                     \
		cli((int)(sizeof(argv_) / sizeof(argv_[0])), argv_);           \
	})

static void test_cli_dispatch(void **state)
{
	(void)state;
	runs = 0;
	assert_int_equal(CLI("boot", "-k", "k", "-p", "count=2"), 42);
	assert_int_equal(runs, 1);
	assert_int_equal(seen.cpu.count, 2);
	assert_int_equal(CLI("-l", "off", "run", "-k", "k", "--memory", "size=2g"), 42);
	assert_int_equal(runs, 2);
	assert_int_equal(seen.mem.size, 2ULL << 30);
	/* a bad boot line never reaches the machine */
	assert_int_equal(CLI("boot", "-k", "k", "--net", "tap"), EXIT_USAGE);
	assert_int_equal(runs, 2);
	assert_int_equal(CLI("boot", "--help"), 0);
	assert_int_equal(runs, 2);

	CLI("vu", "-s", "/nonexistent/vu.sock", "fs", "-p", "x");
	assert_usage("alioth: vu: 'fs' is not supported yet");
	CLI("vu", "-s", "/nonexistent/vu.sock", "net", "-p", "tap");
	assert_usage("alioth: vu: net: if=NAME is required for a TUN/TAP interface "
		     "(or give tap=/dev/tapN for MacVTap/IPVTap)");
	CLI("vu", "-s", "/nonexistent/vu.sock", "net", "-p", "if=t0,qp=17");
	assert_usage("alioth: vu: net: qp: must be 1 to 16");
	CLI("vu", "-s", "/nonexistent/vu.sock", "net", "-p", "tap,if=t0,mac=01:02:03:04:05:06");
	assert_usage("alioth: vu: net: mac: '01:02:03:04:05:06' is not a unicast MAC address "
		     "like 06:3a:76:53:da:3d");
	CLI("vu", "-s", "/nonexistent/vu.sock", "net", "-p", "tap,if=t0,mac=06:3a:76:53:da:3");
	assert_usage("alioth: vu: net: mac: '06:3a:76:53:da:3' is not a unicast MAC address "
		     "like 06:3a:76:53:da:3d");
	CLI("vu", "-s", "/nonexistent/vu.sock", "net", "-p", "vu,socket=/x");
	assert_usage("alioth: vu: net: only a TAP device can be served here");
	CLI("img", "create");
	assert_usage("alioth: img: unrecognized subcommand 'create' (see 'alioth img --help')");
	CLI("frobnicate");
	assert_usage("alioth: unrecognized subcommand 'frobnicate'");
	CLI("--bogus", "boot");
	assert_usage("alioth: unexpected argument '--bogus' (see 'alioth --help')");
	CLI("--log-spec=loud", "boot", "-k", "k");
	assert_usage("alioth: --log-spec: invalid spec 'loud' (expected one of: error, warn, info, debug, trace, off)");
	CLI("--log-file", "x.log", "boot", "-k", "k");
	assert_usage("alioth: --log-file: requires --log-dir");
	CLI("-l");
	assert_usage("alioth: --log-spec: a value is required");
	assert_int_equal(runs, 2);
	assert_int_equal(CLI("-l", "warn"), EXIT_USAGE); /* no subcommand: help on stderr */
	assert_non_null(strstr(res.err, "Usage: alioth [OPTIONS] <COMMAND>"));
}

static int teardown(void **state)
{
	(void)state;
	reset();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_supported_flag),
		cmocka_unit_test(test_short_and_alias_spellings),
		cmocka_unit_test(test_topology_derivation),
		cmocka_unit_test(test_topology_errors),
		cmocka_unit_test(test_memory_too_small),
		cmocka_unit_test(test_blk_forms),
		cmocka_unit_test(test_deprecated_flags),
		cmocka_unit_test(test_unsupported_flags),
		cmocka_unit_test(test_payload_rules),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_flag_syntax_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_cli_dispatch),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
