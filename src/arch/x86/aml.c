#include "arch/x86/aml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	ZERO_OP = 0x00,
	ONE_OP = 0x01,
	NAME_OP = 0x08,
	BYTE_PREFIX = 0x0A,
	WORD_PREFIX = 0x0B,
	DWORD_PREFIX = 0x0C,
	STRING_PREFIX = 0x0D,
	QWORD_PREFIX = 0x0E,
	SCOPE_OP = 0x10,
	BUFFER_OP = 0x11,
	PACKAGE_OP = 0x12,
	METHOD_OP = 0x14,
	DUAL_NAME_PREFIX = 0x2E,
	MULTI_NAME_PREFIX = 0x2F,
	EXT_OP_PREFIX = 0x5B,
	DEVICE_OP = 0x82, /* after EXT_OP_PREFIX */
	ROOT_CHAR = 0x5C,
	PARENT_PREFIX_CHAR = 0x5E,
	LOCAL0_OP = 0x60,
	ARG0_OP = 0x68,
	LEQUAL_OP = 0x93,
	IF_OP = 0xA0,
	ELSE_OP = 0xA1,
	RETURN_OP = 0xA4,
	ONES_OP = 0xFF,
};

/* Resource descriptor tags (ACPI 6.4, 6.4.2 and 6.4.3). */
enum {
	RES_IRQ_NOFLAGS = 0x22, /* small, 2 bytes */
	RES_IO = 0x47,          /* small, 7 bytes */
	RES_END_TAG = 0x79,     /* small, 1 byte */
	RES_DWORD_ADDR = 0x87,
	RES_WORD_ADDR = 0x88,
	RES_EXT_IRQ = 0x89,
	RES_QWORD_ADDR = 0x8A,
};

enum { ADDR_SPACE_MEM = 0, ADDR_SPACE_IO = 1, ADDR_SPACE_BUS = 2 };

/* General flags of an address-space descriptor for a host bridge window:
 * producer (bit 0 clear), positive decode (bit 1 clear), MinFixed, MaxFixed. */
#define ADDR_FLAGS_PRODUCER_FIXED 0x0C
#define IO_RANGE_ENTIRE 0x03
#define MEM_READ_WRITE 0x01

static _Noreturn void aml_die(const char *what, const char *arg)
{
	fprintf(stderr, "aml: %s: \"%s\"\n", what, arg);
	abort();
}

void aml_init(struct aml *a)
{
	a->data = NULL;
	a->len = 0;
	a->cap = 0;
}

void aml_free(struct aml *a)
{
	free(a->data);
	aml_init(a);
}

static void reserve(struct aml *a, size_t extra)
{
	if (a->len + extra <= a->cap)
		return;
	size_t cap = a->cap ? a->cap : 64;
	while (cap < a->len + extra)
		cap *= 2;
	uint8_t *p = realloc(a->data, cap);
	if (!p) {
		fprintf(stderr, "aml: out of memory\n");
		abort();
	}
	a->data = p;
	a->cap = cap;
}

void aml_append_bytes(struct aml *a, const void *bytes, size_t n)
{
	if (!n)
		return;
	reserve(a, n);
	memcpy(a->data + a->len, bytes, n);
	a->len += n;
}

void aml_append(struct aml *a, const struct aml *other)
{
	aml_append_bytes(a, other->data, other->len);
}

static void put8(struct aml *a, uint8_t b)
{
	aml_append_bytes(a, &b, 1);
}

static void put_le(struct aml *a, uint64_t v, unsigned width)
{
	for (unsigned i = 0; i < width; i++)
		put8(a, (uint8_t)(v >> (8 * i)));
}

static void insert_at(struct aml *a, size_t pos, const uint8_t *bytes, size_t n)
{
	reserve(a, n);
	memmove(a->data + pos + n, a->data + pos, a->len - pos);
	memcpy(a->data + pos, bytes, n);
	a->len += n;
}

size_t aml_pkglength_encode(size_t len, uint8_t out[4])
{
	if (len < (1u << 6)) {
		out[0] = (uint8_t)len;
		return 1;
	}
	size_t n;
	if (len < (1u << 12))
		n = 2;
	else if (len < (1u << 20))
		n = 3;
	else if (len < (1u << 28))
		n = 4;
	else
		return 0;
	/* Multi-byte form: the lead byte holds the count of following bytes
	 * and only the low nibble of the length. */
	out[0] = (uint8_t)(((n - 1) << 6) | (len & 0xF));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

/* Inserts, at `pos`, the PkgLength covering everything from pos to the end
 * of the buffer plus the encoding itself. */
static void insert_pkglength(struct aml *a, size_t pos)
{
	size_t content = a->len - pos;
	uint8_t enc[4];
	for (size_t n = 1; n <= 4; n++) {
		if (aml_pkglength_encode(content + n, enc) == n) {
			insert_at(a, pos, enc, n);
			return;
		}
	}
	fprintf(stderr, "aml: package of %zu bytes is too large\n", content);
	abort();
}

static bool is_lead_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_lead_name_char(c) || (c >= '0' && c <= '9');
}

static void put_name_seg(struct aml *a, const char *seg, size_t n, const char *path)
{
	if (n == 0 || n > 4 || !is_lead_name_char(seg[0]))
		aml_die("bad name segment in", path);
	char out[4] = { '_', '_', '_', '_' };
	for (size_t i = 0; i < n; i++) {
		if (!is_name_char(seg[i]))
			aml_die("bad name character in", path);
		out[i] = seg[i];
	}
	aml_append_bytes(a, out, 4);
}

static size_t count_segments(const char *s)
{
	if (!*s)
		return 0;
	size_t n = 1;
	for (; *s; s++)
		n += *s == '.';
	return n;
}

void aml_name_string(struct aml *a, const char *path)
{
	const char *s = path;
	if (*s == '\\') {
		put8(a, ROOT_CHAR);
		s++;
	} else {
		for (; *s == '^'; s++)
			put8(a, PARENT_PREFIX_CHAR);
	}

	size_t nseg = count_segments(s);
	if (nseg == 0) {
		put8(a, ZERO_OP); /* NullName */
		return;
	}
	if (nseg > 255)
		aml_die("too many name segments in", path);
	if (nseg == 2) {
		put8(a, DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		put8(a, MULTI_NAME_PREFIX);
		put8(a, (uint8_t)nseg);
	}
	while (*s) {
		size_t n = strcspn(s, ".");
		put_name_seg(a, s, n, path);
		s += n;
		if (*s == '.' && !*++s)
			aml_die("trailing dot in", path);
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		put8(a, ZERO_OP);
	} else if (v == 1) {
		put8(a, ONE_OP);
	} else if (v == UINT64_MAX) {
		put8(a, ONES_OP);
	} else if (v <= UINT8_MAX) {
		put8(a, BYTE_PREFIX);
		put_le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		put8(a, WORD_PREFIX);
		put_le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		put8(a, DWORD_PREFIX);
		put_le(a, v, 4);
	} else {
		put8(a, QWORD_PREFIX);
		put_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	put8(a, STRING_PREFIX);
	aml_append_bytes(a, s, strlen(s) + 1);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A compressed EISA id is three 5-bit letters followed by four hex digits,
 * stored most significant byte first. */
void aml_eisaid(struct aml *a, const char *id)
{
	if (strlen(id) != 7)
		aml_die("bad EISA id", id);
	uint32_t v = 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			aml_die("bad EISA id", id);
		v = (v << 5) | (uint32_t)(id[i] - 0x40);
	}
	for (int i = 3; i < 7; i++) {
		int h = hex_value(id[i]);
		if (h < 0)
			aml_die("bad EISA id", id);
		v = (v << 4) | (uint32_t)h;
	}
	put8(a, DWORD_PREFIX);
	put_le(a, __builtin_bswap32(v), 4);
}

static bool parse_hex_bytes(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void reverse(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

/* ToUUID stores the first three groups little-endian and the last two as
 * written. */
void aml_touuid(struct aml *a, const char *uuid)
{
	static const size_t group_len[5] = { 4, 2, 2, 2, 6 };
	uint8_t bytes[16];
	const char *s = uuid;
	size_t off = 0;

	if (strlen(uuid) != 36)
		aml_die("bad UUID", uuid);
	for (int g = 0; g < 5; g++) {
		if (!parse_hex_bytes(s, bytes + off, group_len[g]))
			aml_die("bad UUID", uuid);
		if (g < 3)
			reverse(bytes + off, group_len[g]);
		s += 2 * group_len[g];
		off += group_len[g];
		if (g < 4 && *s++ != '-')
			aml_die("bad UUID", uuid);
	}
	aml_buffer(a, bytes, sizeof(bytes));
}

aml_mark aml_buffer_begin(struct aml *a)
{
	put8(a, BUFFER_OP);
	return a->len;
}

void aml_buffer_end(struct aml *a, aml_mark m)
{
	struct aml size;
	aml_init(&size);
	aml_integer(&size, a->len - m);
	insert_at(a, m, size.data, size.len);
	aml_free(&size);
	insert_pkglength(a, m);
}

void aml_buffer(struct aml *a, const void *bytes, size_t n)
{
	aml_mark m = aml_buffer_begin(a);
	aml_append_bytes(a, bytes, n);
	aml_buffer_end(a, m);
}

void aml_name(struct aml *a, const char *path)
{
	put8(a, NAME_OP);
	aml_name_string(a, path);
}

aml_mark aml_scope_begin(struct aml *a, const char *path)
{
	put8(a, SCOPE_OP);
	aml_mark m = a->len;
	aml_name_string(a, path);
	return m;
}

aml_mark aml_device_begin(struct aml *a, const char *path)
{
	put8(a, EXT_OP_PREFIX);
	put8(a, DEVICE_OP);
	aml_mark m = a->len;
	aml_name_string(a, path);
	return m;
}

aml_mark aml_method_begin(struct aml *a, const char *path, unsigned nargs, bool serialized)
{
	if (nargs > 7)
		aml_die("too many method arguments for", path);
	put8(a, METHOD_OP);
	aml_mark m = a->len;
	aml_name_string(a, path);
	put8(a, (uint8_t)(nargs | (serialized ? 0x08 : 0))); /* SyncLevel 0 */
	return m;
}

aml_mark aml_package_begin(struct aml *a, unsigned nelems)
{
	if (nelems > 255)
		aml_die("too many package elements", "Package");
	put8(a, PACKAGE_OP);
	aml_mark m = a->len;
	put8(a, (uint8_t)nelems);
	return m;
}

aml_mark aml_if_begin(struct aml *a)
{
	put8(a, IF_OP);
	return a->len;
}

aml_mark aml_else_begin(struct aml *a)
{
	put8(a, ELSE_OP);
	return a->len;
}

void aml_end(struct aml *a, aml_mark m)
{
	insert_pkglength(a, m);
}

void aml_return(struct aml *a)
{
	put8(a, RETURN_OP);
}

void aml_lequal(struct aml *a)
{
	put8(a, LEQUAL_OP);
}

void aml_arg(struct aml *a, unsigned n)
{
	if (n > 6)
		aml_die("no such argument", "Arg");
	put8(a, (uint8_t)(ARG0_OP + n));
}

void aml_local(struct aml *a, unsigned n)
{
	if (n > 7)
		aml_die("no such local", "Local");
	put8(a, (uint8_t)(LOCAL0_OP + n));
}

aml_mark aml_resource_template_begin(struct aml *a)
{
	return aml_buffer_begin(a);
}

void aml_resource_template_end(struct aml *a, aml_mark m)
{
	put8(a, RES_END_TAG);
	put8(a, 0); /* checksum 0: "treat as correct" */
	aml_buffer_end(a, m);
}

void aml_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	put8(a, RES_IO);
	put8(a, 0x01); /* decodes 16 address bits */
	put_le(a, min, 2);
	put_le(a, max, 2);
	put8(a, align);
	put8(a, len);
}

void aml_irq_noflags(struct aml *a, uint16_t mask)
{
	put8(a, RES_IRQ_NOFLAGS);
	put_le(a, mask, 2);
}

void aml_interrupt(struct aml *a, bool edge, bool active_low, bool shared, uint32_t gsi)
{
	put8(a, RES_EXT_IRQ);
	put_le(a, 6, 2);
	put8(a, (uint8_t)(0x01 | edge << 1 | active_low << 2 | shared << 3)); /* consumer */
	put8(a, 1); /* one interrupt number follows */
	put_le(a, gsi, 4);
}

static void address_space(struct aml *a, uint8_t tag, unsigned width, uint8_t space,
			  uint8_t type_flags, uint64_t min, uint64_t max)
{
	put8(a, tag);
	put_le(a, 3 + 5 * width, 2);
	put8(a, space);
	put8(a, ADDR_FLAGS_PRODUCER_FIXED);
	put8(a, type_flags);
	put_le(a, 0, width); /* granularity */
	put_le(a, min, width);
	put_le(a, max, width);
	put_le(a, 0, width); /* translation */
	put_le(a, max - min + 1, width);
}

void aml_word_bus_number(struct aml *a, uint16_t min, uint16_t max)
{
	address_space(a, RES_WORD_ADDR, 2, ADDR_SPACE_BUS, 0, min, max);
}

void aml_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	address_space(a, RES_WORD_ADDR, 2, ADDR_SPACE_IO, IO_RANGE_ENTIRE, min, max);
}

void aml_dword_memory(struct aml *a, enum aml_mem_cache cache, uint32_t min, uint32_t max)
{
	address_space(a, RES_DWORD_ADDR, 4, ADDR_SPACE_MEM,
		      (uint8_t)(cache << 1 | MEM_READ_WRITE), min, max);
}

void aml_qword_memory(struct aml *a, enum aml_mem_cache cache, uint64_t min, uint64_t max)
{
	address_space(a, RES_QWORD_ADDR, 8, ADDR_SPACE_MEM,
		      (uint8_t)(cache << 1 | MEM_READ_WRITE), min, max);
}
