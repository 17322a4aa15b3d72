/* The key=value parser (src/cli/aco.c): every rule of Alioth's serde-aco
 * syntax and each way input can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "board/config.h"
#include "cli/aco.h"
#include "cli/specs.h"

enum shape_kind { SHAPE_NONE, SHAPE_FILE, SHAPE_NUM };
enum color { RED, GREEN, BLUE };

struct sub {
	bool b;
	uint16_t w;
	char *s;
};

struct opts {
	uint8_t byte;
	uint16_t word;
	uint32_t dw;
	uint64_t q;
	bool on;
	char *name;     /* optional */
	struct sub sub; /* defaults to "" */
	enum color color;
	enum shape_kind shape;
	char *path;     /* shape=file payload */
	bool ro;        /* shape=file payload */
	uint32_t n;     /* shape=num payload */
	uint64_t req;   /* required */
};

static const struct aco_field sub_fields[] = {
	{ .name = "b", .kind = ACO_BOOL, .offset = offsetof(struct sub, b), .dflt = "off",
	  .doc = "a bool" },
	{ .name = "w", .kind = ACO_U16, .offset = offsetof(struct sub, w), .dflt = "7",
	  .doc = "a word" },
	{ .name = "s", .kind = ACO_STRING, .offset = offsetof(struct sub, s), .dflt = "dflt",
	  .doc = "a string" },
};
static const struct aco_struct sub_struct = ACO_TABLE("Sub", sub_fields);

static const struct aco_variant color_variants[] = {
	{ .name = "red", .alias = "Red", .value = RED, .doc = "r" },
	{ .name = "green", .alias = "Green", .value = GREEN, .doc = "g" },
	{ .name = "blue", .alias = "Blue", .value = BLUE, .doc = "b" },
};
static const struct aco_enum color_enum = ACO_TABLE("Color", color_variants);

static const struct aco_field file_fields[] = {
	{ .name = "path", .kind = ACO_STRING, .offset = offsetof(struct opts, path), .doc = "p" },
	{ .name = "ro", .alias = "readonly", .kind = ACO_BOOL, .offset = offsetof(struct opts, ro),
	  .dflt = "false", .doc = "r" },
};
static const struct aco_struct file_struct = ACO_TABLE("FileShape", file_fields);
static const struct aco_field num_fields[] = {
	{ .name = "n", .kind = ACO_U32, .offset = offsetof(struct opts, n), .dflt = "3",
	  .doc = "n" },
};
static const struct aco_struct num_struct = ACO_TABLE("NumShape", num_fields);
static const struct aco_variant shape_variants[] = {
	{ .name = "none", .value = SHAPE_NONE, .doc = "nothing" },
	{ .name = "file", .alias = "File", .value = SHAPE_FILE, .doc = "a file",
	  .payload = &file_struct },
	{ .name = "num", .value = SHAPE_NUM, .doc = "a number", .payload = &num_struct },
};
static const struct aco_enum shape_enum = ACO_TABLE("Shape", shape_variants);

static const struct aco_field opts_fields[] = {
	{ .name = "byte", .kind = ACO_U8, .offset = offsetof(struct opts, byte), .dflt = "0" },
	{ .name = "word", .kind = ACO_U16, .offset = offsetof(struct opts, word), .dflt = "0" },
	{ .name = "dw", .kind = ACO_U32, .offset = offsetof(struct opts, dw), .dflt = "0" },
	{ .name = "q", .kind = ACO_U64, .offset = offsetof(struct opts, q), .dflt = "0" },
	{ .name = "on", .kind = ACO_BOOL, .offset = offsetof(struct opts, on), .dflt = "false" },
	{ .name = "name", .kind = ACO_STRING, .offset = offsetof(struct opts, name),
	  .optional = true },
	{ .name = "sub", .kind = ACO_STRUCT, .offset = offsetof(struct opts, sub), .dflt = "",
	  .sub_struct = &sub_struct },
	{ .name = "color", .alias = "colour", .kind = ACO_ENUM, .offset = offsetof(struct opts, color),
	  .dflt = "red", .sub_enum = &color_enum },
	{ .name = "shape", .kind = ACO_ENUM, .offset = offsetof(struct opts, shape),
	  .dflt = "none", .sub_enum = &shape_enum },
	{ .name = "req", .kind = ACO_U64, .offset = offsetof(struct opts, req) },
};
static const struct aco_struct opts_struct = ACO_TABLE("Opts", opts_fields);
static const struct aco_field opts_root = { .kind = ACO_STRUCT, .sub_struct = &opts_struct };
static const struct aco_field shape_root = {
	.kind = ACO_ENUM, .offset = offsetof(struct opts, shape), .sub_enum = &shape_enum,
};

static char err[512];

static void free_opts(struct opts *o)
{
	free(o->name);
	free(o->sub.s);
	free(o->path);
	memset(o, 0, sizeof(*o));
}

static int parse_opts(const char *in, struct opts *o, const struct aco_objects *objs)
{
	free_opts(o);
	return aco_parse(&opts_root, in, o, objs, err, sizeof(err));
}

static int parse_kind(enum aco_kind kind, const char *in, uint64_t *out)
{
	const struct aco_field root = { .kind = kind };
	union {
		bool b;
		uint8_t u8;
		uint16_t u16;
		uint32_t u32;
		uint64_t u64;
	} v = { .u64 = 0 };
	int ret = aco_parse(&root, in, &v, NULL, err, sizeof(err));

	switch (kind) {
	case ACO_BOOL: *out = v.b; break;
	case ACO_U8: *out = v.u8; break;
	case ACO_U16: *out = v.u16; break;
	case ACO_U32: *out = v.u32; break;
	default: *out = v.u64; break;
	}
	return ret;
}

static void assert_int(enum aco_kind kind, const char *in, uint64_t want)
{
	uint64_t v = ~0ULL;

	assert_int_equal(parse_kind(kind, in, &v), 0);
	assert_int_equal(v, want);
}

static void assert_err(int ret, const char *want)
{
	assert_int_equal(ret, -1);
	assert_string_equal(err, want);
}

static void test_integers(void **state)
{
	(void)state;
	assert_int(ACO_U64, "0", 0);
	assert_int(ACO_U64, "1234", 1234);
	assert_int(ACO_U64, "+5", 5);
	assert_int(ACO_U64, "0x1F", 0x1f);
	assert_int(ACO_U64, "0o17", 017);
	assert_int(ACO_U64, "0b101", 5);
	assert_int(ACO_U64, "1k", 1024);
	assert_int(ACO_U64, "1K", 1024);
	assert_int(ACO_U64, "3m", 3ULL << 20);
	assert_int(ACO_U64, "2G", 2ULL << 30);
	assert_int(ACO_U64, "10t", 10ULL << 40);
	assert_int(ACO_U64, "0x8M", 8ULL << 20);
	assert_int(ACO_U64, "0o7k", 7ULL << 10);
	assert_int(ACO_U64, "18446744073709551615", UINT64_MAX);
	assert_int(ACO_U8, "255", 255);
}

static void test_integer_ranges(void **state)
{
	uint64_t v;

	(void)state;
	assert_int(ACO_U8, "0xff", 255);
	assert_err(parse_kind(ACO_U8, "256", &v), "'256' is out of range (max 255)");
	assert_int(ACO_U16, "65535", 65535);
	assert_err(parse_kind(ACO_U16, "64k", &v), "'64k' is out of range (max 65535)");
	assert_int(ACO_U32, "4294967295", UINT32_MAX);
	assert_err(parse_kind(ACO_U32, "4g", &v), "'4g' is out of range (max 4294967295)");
	assert_err(parse_kind(ACO_U64, "18446744073709551616", &v),
		   "'18446744073709551616' is out of range (max 18446744073709551615)");
	assert_err(parse_kind(ACO_U64, "16777216t", &v),
		   "'16777216t' is out of range (max 18446744073709551615)");
	assert_int(ACO_U64, "16777215t", 16777215ULL << 40);
}

static void test_integer_syntax_errors(void **state)
{
	static const char *const bad[] = { "", "gg", "0x", "1kk", "-1", "1.5", "0xg", "0b2",
					   "0o8", "k", "1 ", "++1" };
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "expected an integer, got '%s'", bad[i]);
		assert_err(parse_kind(ACO_U64, bad[i], &v), want);
	}
	assert_err(parse_kind(ACO_U64, "1,2", &v), "unexpected trailing input '2'");
}

static void test_booleans(void **state)
{
	uint64_t v;

	(void)state;
	assert_int(ACO_BOOL, "on", 1);
	assert_int(ACO_BOOL, "true", 1);
	assert_int(ACO_BOOL, "off", 0);
	assert_int(ACO_BOOL, "false", 0);
	assert_err(parse_kind(ACO_BOOL, "yes", &v), "expected true, false, on or off, got 'yes'");
	assert_err(parse_kind(ACO_BOOL, "TRUE", &v), "expected true, false, on or off, got 'TRUE'");
	assert_err(parse_kind(ACO_BOOL, "on,off", &v), "unexpected trailing input 'off'");
}

static void test_top_level_string_keeps_commas(void **state)
{
	const struct aco_field root = { .kind = ACO_STRING };
	char *s = NULL;

	(void)state;
	assert_int_equal(aco_parse(&root, "test,s=1,c", &s, NULL, err, sizeof(err)), 0);
	assert_string_equal(s, "test,s=1,c");
	/* the previous value is replaced, not leaked */
	assert_int_equal(aco_parse(&root, "id_x", &s, NULL, err, sizeof(err)), 0);
	assert_string_equal(s, "id_x");
	free(s);
}

static void test_struct_fields_and_defaults(void **state)
{
	struct opts o = { 0 };

	(void)state;
	assert_int_equal(parse_opts("byte=0b10,word=0o7k,dw=0x8m,q=10t,on=on,req=1", &o, NULL), 0);
	assert_int_equal(o.byte, 2);
	assert_int_equal(o.word, 7 << 10);
	assert_int_equal(o.dw, 8 << 20);
	assert_int_equal(o.q, 10ULL << 40);
	assert_true(o.on);
	assert_null(o.name);
	assert_false(o.sub.b);
	assert_int_equal(o.sub.w, 7);
	assert_string_equal(o.sub.s, "dflt");
	assert_int_equal(o.color, RED);
	assert_int_equal(o.shape, SHAPE_NONE);
	assert_int_equal(o.req, 1);

	/* keys in any order, a value may be empty */
	assert_int_equal(parse_opts("req=2,name=,on=false", &o, NULL), 0);
	assert_string_equal(o.name, "");
	assert_false(o.on);
	free_opts(&o);
}

static void test_struct_errors(void **state)
{
	struct opts o = { 0 };

	(void)state;
	assert_err(parse_opts("req=1,bite=2", &o, NULL),
		   "unknown key 'bite' (expected one of: byte, word, dw, q, on, name, sub, color, shape, req)");
	assert_err(parse_opts("req=1,req=2", &o, NULL), "key 'req' given more than once");
	assert_err(parse_opts("req=1,color=red,colour=blue", &o, NULL),
		   "key 'color' given more than once");
	assert_err(parse_opts("on=on", &o, NULL), "missing key 'req'");
	/* a key without '=', last or followed by more keys */
	assert_err(parse_opts("req=1,on", &o, NULL), "expected key=value, got 'on'");
	assert_err(parse_opts("on,req=1", &o, NULL), "expected key=value, got 'on'");
	assert_err(parse_opts("req=1,byte=300", &o, NULL), "byte: '300' is out of range (max 255)");
	assert_err(parse_opts("req=x", &o, NULL), "req: expected an integer, got 'x'");
	assert_err(parse_opts("req=1,on=1", &o, NULL), "on: expected true, false, on or off, got '1'");
	assert_err(parse_opts("req=1,sub=x=1", &o, NULL),
		   "sub: unknown key 'x' (expected one of: b, w, s)");
	free_opts(&o);
}

static void test_nested_struct(void **state)
{
	struct aco_objects objs = { 0 };
	struct opts o = { 0 };

	(void)state;
	/* inline: the nested value ends at the next comma */
	assert_int_equal(parse_opts("sub=w=9,req=1", &o, NULL), 0);
	assert_int_equal(o.sub.w, 9);
	assert_string_equal(o.sub.s, "dflt");
	/* through an object, which may hold commas */
	assert_int_equal(aco_objects_add(&objs, "id_s,b=on,w=2,s=a,b", err, sizeof(err)), 0);
	assert_err(parse_opts("req=1,sub=id_s", &o, &objs), "sub: expected key=value, got 'b'");
	aco_objects_free(&objs);
	assert_int_equal(aco_objects_add(&objs, "id_s,b=on,w=2,s=id_t", err, sizeof(err)), 0);
	assert_int_equal(aco_objects_add(&objs, "id_t,x,y=z", err, sizeof(err)), 0);
	assert_int_equal(parse_opts("req=1,sub=id_s", &o, &objs), 0);
	assert_true(o.sub.b);
	assert_int_equal(o.sub.w, 2);
	assert_string_equal(o.sub.s, "x,y=z");
	aco_objects_free(&objs);
	free_opts(&o);
}

static void test_enum_values(void **state)
{
	struct aco_objects objs = { 0 };
	struct opts o = { 0 };

	(void)state;
	assert_int_equal(parse_opts("color=blue,req=1", &o, NULL), 0);
	assert_int_equal(o.color, BLUE);
	assert_int_equal(parse_opts("colour=Green,req=1", &o, NULL), 0);
	assert_int_equal(o.color, GREEN);
	assert_err(parse_opts("color=pink,req=1", &o, NULL),
		   "color: unknown variant 'pink' (expected one of: red, green, blue)");
	/* a nested enum with a payload comes from an object */
	assert_int_equal(aco_objects_add(&objs, "id_f,file,path=/a,b,ro=on", err, sizeof(err)), 0);
	assert_err(parse_opts("shape=id_f,req=1", &o, &objs), "shape: expected key=value, got 'b'");
	aco_objects_free(&objs);
	assert_int_equal(aco_objects_add(&objs, "id_f,file,path=/a,readonly=on", err, sizeof(err)), 0);
	assert_int_equal(parse_opts("shape=id_f,req=1", &o, &objs), 0);
	assert_int_equal(o.shape, SHAPE_FILE);
	assert_string_equal(o.path, "/a");
	assert_true(o.ro);
	assert_int_equal(parse_opts("shape=num,req=1", &o, &objs), 0);
	assert_int_equal(o.shape, SHAPE_NUM);
	assert_int_equal(o.n, 3);
	aco_objects_free(&objs);
	free_opts(&o);
}

static void test_top_level_enum(void **state)
{
	struct opts o = { 0 };

	(void)state;
	assert_int_equal(aco_parse(&shape_root, "file,path=x,ro=true", &o, NULL, err, sizeof(err)), 0);
	assert_int_equal(o.shape, SHAPE_FILE);
	assert_string_equal(o.path, "x");
	assert_true(o.ro);
	/* choosing another variant clears the old payload */
	assert_int_equal(aco_parse(&shape_root, "none", &o, NULL, err, sizeof(err)), 0);
	assert_int_equal(o.shape, SHAPE_NONE);
	assert_null(o.path);
	assert_false(o.ro);
	assert_int_equal(aco_parse(&shape_root, "File,path=y", &o, NULL, err, sizeof(err)), 0);
	assert_int_equal(o.shape, SHAPE_FILE);
	assert_false(o.ro);
	assert_err(aco_parse(&shape_root, "none,n=1", &o, NULL, err, sizeof(err)),
		   "'none' takes no options, got 'n=1'");
	assert_err(aco_parse(&shape_root, "file", &o, NULL, err, sizeof(err)), "missing key 'path'");
	assert_err(aco_parse(&shape_root, "path=x,file", &o, NULL, err, sizeof(err)),
		   "unknown variant 'path=x' (expected one of: none, file, num)");
	assert_err(aco_parse(&shape_root, "num,n=5g", &o, NULL, err, sizeof(err)),
		   "n: '5g' is out of range (max 4294967295)");
	assert_err(aco_parse(&shape_root, "", &o, NULL, err, sizeof(err)),
		   "unknown variant '' (expected one of: none, file, num)");
	free_opts(&o);
}

static void test_objects(void **state)
{
	struct aco_objects objs = { 0 };
	struct opts o = { 0 };

	(void)state;
	assert_err(aco_objects_add(&objs, "foo,1", err, sizeof(err)),
		   "invalid object id 'foo': it must start with 'id_'");
	assert_err(aco_objects_add(&objs, "ID_x,1", err, sizeof(err)),
		   "invalid object id 'ID_x': it must start with 'id_'");
	assert_int_equal(aco_objects_add(&objs, "id_n,0x10", err, sizeof(err)), 0);
	assert_int_equal(aco_objects_add(&objs, "id_empty", err, sizeof(err)), 0);
	assert_err(aco_objects_add(&objs, "id_n,2", err, sizeof(err)),
		   "object 'id_n' defined more than once");
	assert_int_equal(objs.count, 2);
	assert_string_equal(objs.items[1].value, "");

	/* any value is substituted, scalars included */
	assert_int_equal(parse_opts("req=id_n,name=id_n", &o, &objs), 0);
	assert_int_equal(o.req, 16);
	assert_string_equal(o.name, "0x10");
	/* an empty object stands for "none" in an optional field */
	assert_int_equal(parse_opts("req=1,name=id_empty", &o, &objs), 0);
	assert_null(o.name);
	assert_err(parse_opts("req=id_gone", &o, &objs),
		   "req: unknown object 'id_gone' (define it with -o id_gone,VALUE)");
	assert_err(parse_opts("req=id_n", &o, NULL),
		   "req: unknown object 'id_n' (define it with -o id_n,VALUE)");
	aco_objects_free(&objs);
	assert_int_equal(objs.count, 0);
	free_opts(&o);
}

static void test_memory_spec(void **state)
{
	struct mem_config mem = { 0 };

	(void)state;
	assert_int_equal(aco_parse(&spec_memory, "size=32g,backend=memfd,shared=true,thp=true",
				   &mem, NULL, err, sizeof(err)), 0);
	assert_int_equal(mem.size, 32ULL << 30);
	assert_int_equal(mem.backend, MEM_BACKEND_MEMFD);
	assert_true(mem.shared);
	assert_true(mem.thp);
	assert_int_equal(aco_parse(&spec_memory, "transparent_hugepage=on,backend=Anonymous",
				   &mem, NULL, err, sizeof(err)), 0);
	assert_int_equal(mem.size, 1ULL << 30);
	assert_int_equal(mem.backend, MEM_BACKEND_ANON);
	assert_false(mem.shared);
	assert_true(mem.thp);
	assert_err(aco_parse(&spec_memory, "sise=1", &mem, NULL, err, sizeof(err)),
		   "unknown key 'sise' (expected one of: size, backend, shared, thp)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_integer_ranges),
		cmocka_unit_test(test_integer_syntax_errors),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_top_level_string_keeps_commas),
		cmocka_unit_test(test_struct_fields_and_defaults),
		cmocka_unit_test(test_struct_errors),
		cmocka_unit_test(test_nested_struct),
		cmocka_unit_test(test_enum_values),
		cmocka_unit_test(test_top_level_enum),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_memory_spec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
