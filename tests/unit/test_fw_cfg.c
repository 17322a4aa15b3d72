/* fw_cfg: selector and data port, file directory layout, the DMA interface
 * (read, skip, write, select in the control word's high half) and the error
 * bit for hostile descriptors; plus the fw_cfg form of a bzImage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/boot_args.h"
#include "dev/fw_cfg.h"
#include "util/exit_status.h"
#include "loader/loader.h"
#include "util/util.h"

#define RAM_GPA  0x1000u
#define RAM_SIZE 0x10000u
#define DESC     0x2000u   /* descriptor */
#define BUF      0x3000u   /* transfer buffer */

struct env {
	uint8_t ram[RAM_SIZE];
	struct guest_mem gm;
	struct fw_cfg *fw;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	gm_init_buffer(&e->gm, RAM_GPA, e->ram, RAM_SIZE);
	e->fw = fw_cfg_create(&e->gm);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	fw_cfg_destroy(e->fw);
	free(e);
	return 0;
}

static void sel(struct fw_cfg *fw, uint16_t key)
{
	fw_cfg_io_ops.write(fw, 0, 2, key);
}

static uint8_t data(struct fw_cfg *fw)
{
	return (uint8_t)fw_cfg_io_ops.read(fw, 1, 1);
}

static void read_bytes(struct fw_cfg *fw, uint16_t key, uint8_t *out, size_t n)
{
	sel(fw, key);
	for (size_t i = 0; i < n; i++)
		out[i] = data(fw);
}

static uint8_t *ram(struct env *e, uint64_t gpa)
{
	return e->ram + (gpa - RAM_GPA);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t rd_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes the descriptor and triggers the transfer the way a guest does:
 * big-endian halves, the low one last. Returns the control word after. */
static uint32_t dma_at(struct env *e, uint64_t desc, uint32_t control, uint32_t len,
		       uint64_t addr)
{
	uint8_t *d = e->ram + (desc - RAM_GPA);
	if (desc >= RAM_GPA && desc + 16 <= RAM_GPA + RAM_SIZE) {
		be32(d, control);
		be32(d + 4, len);
		be32(d + 8, (uint32_t)(addr >> 32));
		be32(d + 12, (uint32_t)addr);
	}
	/* the port value is what a little-endian CPU sends for cpu_to_be32(x) */
	fw_cfg_io_ops.write(e->fw, 4, 4, __builtin_bswap32((uint32_t)(desc >> 32)));
	fw_cfg_io_ops.write(e->fw, 8, 4, __builtin_bswap32((uint32_t)desc));
	return desc >= RAM_GPA && desc + 16 <= RAM_GPA + RAM_SIZE ? rd_be32(d) : 0xdeadbeef;
}

static uint32_t dma(struct env *e, uint32_t control, uint32_t len, uint64_t addr)
{
	return dma_at(e, DESC, control, len, addr);
}

static void test_signature_and_id(void **state)
{
	struct env *e = *state;
	uint8_t sig[5] = { 0 }, id[4];
	read_bytes(e->fw, FW_CFG_SIGNATURE, sig, 4);
	assert_string_equal((char *)sig, "QEMU");
	read_bytes(e->fw, FW_CFG_ID, id, 4);
	assert_int_equal(id[0], FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA);
	/* the DMA address register reads "QEMU CFG" in memory order */
	uint32_t hi = (uint32_t)fw_cfg_io_ops.read(e->fw, 4, 4);
	uint32_t lo = (uint32_t)fw_cfg_io_ops.read(e->fw, 8, 4);
	char dsig[9] = { 0 };
	memcpy(dsig, &hi, 4);
	memcpy(dsig + 4, &lo, 4);
	assert_string_equal(dsig, "QEMU CFG");
}

static void test_data_auto_advance_and_reselect(void **state)
{
	struct env *e = *state;
	assert_int_equal(fw_cfg_set_u32(e->fw, FW_CFG_KERNEL_SIZE, 0x11223344), 0);
	sel(e->fw, FW_CFG_KERNEL_SIZE);
	assert_int_equal(data(e->fw), 0x44);
	assert_int_equal(data(e->fw), 0x33);
	/* selecting again rewinds */
	sel(e->fw, FW_CFG_KERNEL_SIZE);
	assert_int_equal(data(e->fw), 0x44);
	assert_int_equal(data(e->fw), 0x33);
	assert_int_equal(data(e->fw), 0x22);
	assert_int_equal(data(e->fw), 0x11);
	/* past the end, and an absent item, read 0 */
	assert_int_equal(data(e->fw), 0);
	sel(e->fw, 0x1234);
	assert_int_equal(data(e->fw), 0);
	/* known items cannot take the file directory's key or a file key */
	assert_int_equal(fw_cfg_set_u16(e->fw, FW_CFG_FILE_DIR, 1), -EINVAL);
	assert_int_equal(fw_cfg_set_u16(e->fw, FW_CFG_FILE_FIRST, 1), -EINVAL);
}

static void test_file_directory(void **state)
{
	struct env *e = *state;
	uint16_t k1, k2;
	assert_int_equal(fw_cfg_add_file(e->fw, "opt/zeta", "abc", 3, false, &k1), 0);
	assert_int_equal(fw_cfg_add_file(e->fw, "etc/alpha", "0123456789", 10, false, &k2), 0);
	assert_int_equal(k1, FW_CFG_FILE_FIRST);
	assert_int_equal(k2, FW_CFG_FILE_FIRST + 1);

	uint8_t dir[4 + 2 * 64];
	read_bytes(e->fw, FW_CFG_FILE_DIR, dir, sizeof(dir));
	assert_int_equal(rd_be32(dir), 2); /* count is big-endian */
	const uint8_t *f = dir + 4;
	assert_int_equal(rd_be32(f), 3);
	assert_int_equal(f[4] << 8 | f[5], FW_CFG_FILE_FIRST);
	assert_int_equal(f[6] | f[7], 0);
	assert_string_equal((const char *)f + 8, "opt/zeta");
	f += 64;
	assert_int_equal(rd_be32(f), 10);
	assert_int_equal(f[4] << 8 | f[5], FW_CFG_FILE_FIRST + 1);
	assert_string_equal((const char *)f + 8, "etc/alpha");

	uint8_t got[3];
	read_bytes(e->fw, k1, got, 3);
	assert_memory_equal(got, "abc", 3);

	assert_int_equal(fw_cfg_add_file(e->fw, "opt/zeta", "x", 1, false, NULL), -EEXIST);
	char longname[57];
	memset(longname, 'a', 56);
	longname[56] = 0;
	assert_int_equal(fw_cfg_add_file(e->fw, longname, "x", 1, false, NULL), -ENAMETOOLONG);
	longname[55] = 0;
	assert_int_equal(fw_cfg_add_file(e->fw, longname, "x", 1, false, NULL), 0);
	assert_int_equal(fw_cfg_add_file(e->fw, "", "x", 1, false, NULL), -EINVAL);
}

static void test_dma_read_skip_select(void **state)
{
	struct env *e = *state;
	uint16_t key;
	assert_int_equal(fw_cfg_add_file(e->fw, "opt/t", "hello world", 11, false, &key), 0);
	memset(ram(e, BUF), 0xAA, 32);

	/* select in the control word's high 16 bits, read 5 */
	uint32_t ctl = (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ;
	assert_int_equal(dma(e, ctl, 5, BUF), 0);
	assert_memory_equal(ram(e, BUF), "hello", 5);
	assert_int_equal(ram(e, BUF)[5], 0xAA);
	/* skip 1, then read on from the current offset without select */
	assert_int_equal(dma(e, FW_CFG_DMA_SKIP, 1, 0), 0);
	assert_int_equal(dma(e, FW_CFG_DMA_READ, 8, BUF + 16), 0);
	assert_memory_equal(ram(e, BUF + 16), "world\0\0\0", 8); /* zero-filled past the end */
	/* the data port continues where DMA left off (at the end) */
	assert_int_equal(data(e->fw), 0);
	/* a select alone rewinds */
	assert_int_equal(dma(e, (uint32_t)key << 16 | FW_CFG_DMA_SELECT, 0, 0), 0);
	assert_int_equal(data(e->fw), 'h');
}

static void test_dma_write(void **state)
{
	struct env *e = *state;
	uint16_t ro, rw;
	assert_int_equal(fw_cfg_add_file(e->fw, "opt/ro", "abcd", 4, false, &ro), 0);
	assert_int_equal(fw_cfg_add_file(e->fw, "opt/rw", "abcd", 4, true, &rw), 0);
	memcpy(ram(e, BUF), "WXYZ12", 6);

	uint32_t w = FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE;
	assert_int_equal(dma(e, (uint32_t)ro << 16 | w, 4, BUF), FW_CFG_DMA_ERROR);
	uint8_t got[4];
	read_bytes(e->fw, ro, got, 4);
	assert_memory_equal(got, "abcd", 4);

	/* writes never grow an item */
	assert_int_equal(dma(e, (uint32_t)rw << 16 | w, 6, BUF), 0);
	read_bytes(e->fw, rw, got, 4);
	assert_memory_equal(got, "WXYZ", 4);
	assert_int_equal(data(e->fw), 0);
}

static void test_dma_hostile(void **state)
{
	struct env *e = *state;
	uint16_t key;
	assert_int_equal(fw_cfg_add_file(e->fw, "opt/t", "secret", 6, false, &key), 0);
	uint32_t rd = (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ;
	memset(e->ram, 0x5A, RAM_SIZE);

	/* buffer past the end of RAM: error, and not a byte written */
	assert_int_equal(dma(e, rd, 6, RAM_GPA + RAM_SIZE - 3), FW_CFG_DMA_ERROR);
	assert_int_equal(ram(e, RAM_GPA + RAM_SIZE - 1)[0], 0x5A);
	assert_int_equal(ram(e, RAM_GPA + RAM_SIZE - 3)[0], 0x5A);
	/* address + length wrapping around 2^64 */
	assert_int_equal(dma(e, rd, 0x100, 0xFFFFFFFFFFFFFF80ULL), FW_CFG_DMA_ERROR);
	/* huge length from inside RAM */
	assert_int_equal(dma(e, rd, 0xFFFFFFFFu, BUF), FW_CFG_DMA_ERROR);
	assert_int_equal(ram(e, BUF)[0], 0x5A);
	/* unknown selector */
	assert_int_equal(dma(e, 0x7777u << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4, BUF),
			 FW_CFG_DMA_ERROR);
	assert_int_equal(dma(e, FW_CFG_DMA_SKIP, 4, 0), FW_CFG_DMA_ERROR);
	/* a descriptor outside RAM: nothing happens, RAM untouched */
	uint8_t before[RAM_SIZE];
	memcpy(before, e->ram, RAM_SIZE);
	dma_at(e, RAM_GPA + RAM_SIZE - 8, rd, 4, BUF);
	dma_at(e, 0x10, rd, 4, BUF);
	assert_memory_equal(before, e->ram, RAM_SIZE);
	/* after all that, a valid read still works */
	assert_int_equal(dma(e, rd, 6, BUF), 0);
	assert_memory_equal(ram(e, BUF), "secret", 6);
}

/* A 3-sector-setup bzImage (protocol 2.15) split as QEMU does for -kernel. */
static void test_fw_kernel_split(void **state)
{
	(void)state;
	char kpath[] = "/tmp/test_fw_cfg_kXXXXXX", ipath[] = "/tmp/test_fw_cfg_iXXXXXX";
	int kfd = mkstemp(kpath), ifd = mkstemp(ipath);
	assert_true(kfd >= 0 && ifd >= 0);
	uint8_t img[4 * 512 + 1000];
	memset(img, 0x11, sizeof(img));
	img[0x1f1] = 3;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f;
	img[0x207] = 0x02;
	img[0x211] = 0x01;
	uint32_t initrd_max = 0x7fffffff, cmdsize = 255;
	memcpy(img + 0x22c, &initrd_max, 4);
	memcpy(img + 0x238, &cmdsize, 4);
	assert_int_equal(write(kfd, img, sizeof(img)), (ssize_t)sizeof(img));
	assert_int_equal(write(ifd, "initrd-bytes", 12), 12);
	close(kfd);
	close(ifd);

	struct boot_input in = { .kernel_path = kpath, .cmdline = "console=ttyS0",
				 .initramfs_path = ipath };
	struct fw_kernel k;
	assert_int_equal(load_fw_kernel(&in, 64 * MiB, &k), 0);
	assert_int_equal(k.setup_size, 4 * 512);
	assert_int_equal(k.kernel_size, 1000);
	assert_int_equal(k.kernel_addr, 0x100000);
	assert_int_equal(k.setup_addr, 0x10000);
	assert_int_equal(k.cmdline_addr, 0x20000);
	assert_string_equal(k.cmdline, "console=ttyS0");
	assert_int_equal(k.cmdline_size, 14);
	assert_int_equal(k.initrd_size, 12);
	assert_int_equal(k.initrd_addr % 4096, 0);
	assert_true(k.initrd_addr + 12 <= 64 * MiB - 0x20000);
	assert_true(k.initrd_addr + 12 + 4096 > 64 * MiB - 0x20000);
	uint32_t v;
	memcpy(&v, k.setup + 0x228, 4);
	assert_int_equal(v, 0x20000);
	memcpy(&v, k.setup + 0x218, 4);
	assert_int_equal(v, k.initrd_addr);
	memcpy(&v, k.setup + 0x21c, 4);
	assert_int_equal(v, 12);
	assert_int_equal(k.setup[0x210], 0xb0);
	assert_int_equal(k.setup[0x211], 0x81);
	fw_kernel_free(&k);

	/* a command line over the kernel's limit is refused */
	char longline[300];
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	in.cmdline = longline;
	assert_int_equal(load_fw_kernel(&in, 64 * MiB, &k), -1);
	unlink(kpath);
	unlink(ipath);
}

static void test_firmware_size_checked(void **state)
{
	(void)state;
	char path[] = "/tmp/test_fw_cfg_fXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t page[4096] = { 0xF4 };
	assert_int_equal(write(fd, page, 100), 100);
	struct firmware_image img;
	struct boot_entry entry;
	assert_int_equal(load_firmware(path, &img, &entry), -1);
	assert_int_equal(write(fd, page, 4096 - 100), 4096 - 100);
	assert_int_equal(load_firmware(path, &img, &entry), 0);
	assert_int_equal(img.size, 4096);
	assert_int_equal(img.data[0], 0xF4);
	assert_int_equal(entry.mode, BOOT_RESET);
	firmware_image_free(&img);
	close(fd);
	unlink(path);
}

/* Runs `alioth boot ARGS...`; returns the parse result, err text in errbuf. */
static char errbuf[512];

static int parse(struct vm_config *cfg, int argc, const char **argv)
{
	FILE *out = fopen("/dev/null", "w");
	FILE *err = fmemopen(errbuf, sizeof(errbuf), "w");
	memset(errbuf, 0, sizeof(errbuf));
	int ret = boot_args_parse(argc, (char **)argv, cfg, out, err);
	fclose(out);
	fclose(err);
	return ret;
}

#define PARSE(cfg, ...) \
	parse(cfg, (int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
	      (const char *[]){ __VA_ARGS__ })

static void test_cli_fw_cfg_items(void **state)
{
	(void)state;
	struct vm_config cfg;
	assert_int_equal(PARSE(&cfg, "boot", "-f", "fw.bin", "-k", "bz", "--fw-cfg",
			       "name=opt/a,string=hello", "--fw-cfg", "name=opt/b,file=/x/y"), 0);
	assert_string_equal(cfg.firmware, "fw.bin");
	assert_string_equal(cfg.kernel, "bz");
	assert_int_equal(cfg.nr_fw_cfg, 2);
	assert_string_equal(cfg.fw_cfg[0].name, "opt/a");
	assert_string_equal(cfg.fw_cfg[0].string, "hello");
	assert_null(cfg.fw_cfg[0].file);
	assert_string_equal(cfg.fw_cfg[1].file, "/x/y");
	vm_config_free(&cfg);

	assert_int_equal(PARSE(&cfg, "boot", "-f", "fw", "--fw-cfg", "name=etc/x,string=a"),
			 EXIT_USAGE);
	assert_non_null(strstr(errbuf, "must start with 'opt/'"));
	vm_config_free(&cfg);
	char longname[80] = "name=opt/";
	memset(longname + 9, 'n', 60);
	strcat(longname, ",string=a");
	assert_int_equal(PARSE(&cfg, "boot", "-f", "fw", "--fw-cfg", longname), EXIT_USAGE);
	assert_non_null(strstr(errbuf, "longer than 55"));
	vm_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "boot", "-f", "fw", "--fw-cfg", "name=opt/a,string=1",
			       "--fw-cfg", "name=opt/a,string=2"), EXIT_USAGE);
	assert_non_null(strstr(errbuf, "more than once"));
	vm_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "boot", "-f", "fw", "--fw-cfg", "name=opt/a,string=1,file=f"),
			 EXIT_USAGE);
	assert_non_null(strstr(errbuf, "exactly one of file"));
	vm_config_free(&cfg);
	assert_int_equal(PARSE(&cfg, "boot", "-f", "fw", "--fw-cfg", "name=opt/a"), EXIT_USAGE);
	vm_config_free(&cfg);
	/* --pvh still excludes the others */
	assert_int_equal(PARSE(&cfg, "boot", "-f", "fw", "--pvh", "elf"), EXIT_USAGE);
	vm_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signature_and_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_auto_advance_and_reselect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_read_skip_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_hostile, setup, teardown),
		cmocka_unit_test(test_fw_kernel_split),
		cmocka_unit_test(test_firmware_size_checked),
		cmocka_unit_test(test_cli_fw_cfg_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
