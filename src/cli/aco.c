#include "cli/aco.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* A view into the argument being parsed; the parser never copies input
 * until it stores a string. */
struct slice {
	const char *p;
	size_t n;
};

struct parse_ctx {
	const struct aco_objects *objs;
	char *err;
	size_t errlen;
	char path[128]; /* keys leading to the value being parsed, for errors */
};

#define MAX_FIELDS 64

static struct slice slice_of(const char *s)
{
	return (struct slice){ s, strlen(s) };
}

static bool slice_eq(struct slice s, const char *word)
{
	return word && strlen(word) == s.n && !memcmp(s.p, word, s.n);
}

static bool slice_starts_with(struct slice s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.n >= n && !memcmp(s.p, prefix, n);
}

/* Splits *in at the first c: returns what precedes it and leaves the rest
 * after it in *in; without a c, returns all of *in and empties it. */
static struct slice take_until(struct slice *in, char c, bool *found)
{
	const char *hit = memchr(in->p, c, in->n);
	struct slice head = *in;

	if (found)
		*found = hit != NULL;
	if (!hit) {
		in->p += in->n;
		in->n = 0;
		return head;
	}
	head.n = (size_t)(hit - in->p);
	in->n -= head.n + 1;
	in->p = hit + 1;
	return head;
}

static struct slice take_value(struct slice *in)
{
	return take_until(in, ',', NULL);
}

__attribute__((format(printf, 2, 3)))
static int fail(struct parse_ctx *ctx, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;

	if (!ctx->err || !ctx->errlen)
		return -1;
	if (ctx->path[0]) {
		int n = snprintf(ctx->err, ctx->errlen, "%s: ", ctx->path);
		off = n < 0 ? 0 : MIN((size_t)n, ctx->errlen - 1);
	}
	va_start(ap, fmt);
	vsnprintf(ctx->err + off, ctx->errlen - off, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t path_push(struct parse_ctx *ctx, const char *key)
{
	size_t old = strlen(ctx->path);

	snprintf(ctx->path + old, sizeof(ctx->path) - old, "%s%s", old ? "." : "", key);
	return old;
}

static void path_pop(struct parse_ctx *ctx, size_t old)
{
	ctx->path[old] = '\0';
}

/* ---- scalars ---- */

enum int_result { INT_OK, INT_INVALID, INT_OVERFLOW };

static enum int_result parse_digits(struct slice s, unsigned base, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (s.n && s.p[0] == '+') /* Rust's integer parsing accepts one '+' */
		i = 1;
	if (i == s.n)
		return INT_INVALID;
	for (; i < s.n; i++) {
		char c = s.p[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'z')
			d = (unsigned)(c - 'a') + 10;
		else if (c >= 'A' && c <= 'Z')
			d = (unsigned)(c - 'A') + 10;
		else
			return INT_INVALID;
		if (d >= base)
			return INT_INVALID;
		if (v > (UINT64_MAX - d) / base)
			return INT_OVERFLOW;
		v = v * base + d;
	}
	*out = v;
	return INT_OK;
}

/* Decimal, 0x, 0o or 0b, with an optional k/m/g/t (binary) suffix. */
static enum int_result parse_u64(struct slice s, uint64_t *out)
{
	static const char suffixes[] = "kmgt";
	unsigned shift = 0, base = 10;
	enum int_result r;
	uint64_t v;

	if (s.n) {
		const char *suffix = strchr(suffixes, s.p[s.n - 1] | 0x20);
		if (suffix && *suffix) {
			shift = 10 * (unsigned)(suffix - suffixes + 1);
			s.n--;
		}
	}
	if (slice_starts_with(s, "0x"))
		base = 16;
	else if (slice_starts_with(s, "0o"))
		base = 8;
	else if (slice_starts_with(s, "0b"))
		base = 2;
	if (base != 10) {
		s.p += 2;
		s.n -= 2;
	}
	r = parse_digits(s, base, &v);
	if (r != INT_OK)
		return r;
	if (shift && v > (UINT64_MAX >> shift))
		return INT_OVERFLOW;
	*out = v << shift;
	return INT_OK;
}

static uint64_t kind_max(enum aco_kind kind)
{
	switch (kind) {
	case ACO_U8: return UINT8_MAX;
	case ACO_U16: return UINT16_MAX;
	case ACO_U32: return UINT32_MAX;
	default: return UINT64_MAX;
	}
}

static void store_int(enum aco_kind kind, void *dst, uint64_t v)
{
	switch (kind) {
	case ACO_U8: *(uint8_t *)dst = (uint8_t)v; break;
	case ACO_U16: *(uint16_t *)dst = (uint16_t)v; break;
	case ACO_U32: *(uint32_t *)dst = (uint32_t)v; break;
	default: *(uint64_t *)dst = v; break;
	}
}

static int parse_int(struct parse_ctx *ctx, enum aco_kind kind, struct slice s, void *dst)
{
	uint64_t v = 0;

	switch (parse_u64(s, &v)) {
	case INT_INVALID:
		return fail(ctx, "expected an integer, got '%.*s'", (int)s.n, s.p);
	case INT_OVERFLOW:
		return fail(ctx, "'%.*s' is out of range (max %" PRIu64 ")", (int)s.n, s.p,
			    kind_max(kind));
	case INT_OK:
		break;
	}
	if (v > kind_max(kind))
		return fail(ctx, "'%.*s' is out of range (max %" PRIu64 ")", (int)s.n, s.p,
			    kind_max(kind));
	store_int(kind, dst, v);
	return 0;
}

static int parse_bool(struct parse_ctx *ctx, struct slice s, bool *dst)
{
	if (slice_eq(s, "on") || slice_eq(s, "true"))
		*dst = true;
	else if (slice_eq(s, "off") || slice_eq(s, "false"))
		*dst = false;
	else
		return fail(ctx, "expected true, false, on or off, got '%.*s'", (int)s.n, s.p);
	return 0;
}

static void store_string(char **dst, struct slice s)
{
	char *copy = xmalloc(s.n + 1);

	memcpy(copy, s.p, s.n);
	copy[s.n] = '\0';
	free(*dst);
	*dst = copy;
}

/* ---- objects ---- */

static const struct aco_object *find_object(const struct aco_objects *objs, struct slice id)
{
	for (size_t i = 0; objs && i < objs->count; i++)
		if (slice_eq(id, objs->items[i].id))
			return &objs->items[i];
	return NULL;
}

int aco_objects_add(struct aco_objects *objs, const char *arg, char *err, size_t errlen)
{
	struct slice rest = slice_of(arg);
	struct slice id = take_value(&rest);
	struct aco_object *obj;

	if (!slice_starts_with(id, "id_")) {
		snprintf(err, errlen, "invalid object id '%.*s': it must start with 'id_'",
			 (int)id.n, id.p);
		return -1;
	}
	if (find_object(objs, id)) {
		snprintf(err, errlen, "object '%.*s' defined more than once", (int)id.n, id.p);
		return -1;
	}
	objs->items = realloc(objs->items, (objs->count + 1) * sizeof(*objs->items));
	if (!objs->items)
		abort();
	obj = &objs->items[objs->count++];
	obj->id = NULL;
	obj->value = NULL;
	store_string(&obj->id, id);
	store_string(&obj->value, rest);
	return 0;
}

void aco_objects_free(struct aco_objects *objs)
{
	for (size_t i = 0; i < objs->count; i++) {
		free(objs->items[i].id);
		free(objs->items[i].value);
	}
	free(objs->items);
	objs->items = NULL;
	objs->count = 0;
}

/* A value spelled id_NAME stands for the text of object id_NAME. */
static int deref(struct parse_ctx *ctx, struct slice *val, bool *was_id)
{
	const struct aco_object *obj;

	*was_id = slice_starts_with(*val, "id_");
	if (!*was_id)
		return 0;
	obj = find_object(ctx->objs, *val);
	if (!obj)
		return fail(ctx, "unknown object '%.*s' (define it with -o %.*s,VALUE)",
			    (int)val->n, val->p, (int)val->n, val->p);
	*val = slice_of(obj->value);
	return 0;
}

/* ---- structs and enums ---- */

static int parse_value(struct parse_ctx *ctx, const struct aco_field *f, struct slice val,
		       char *container);
static int parse_struct_body(struct parse_ctx *ctx, const struct aco_struct *st,
			     struct slice in, char *base);

static void clear_struct(const struct aco_struct *st, char *base);

static void clear_value(const struct aco_field *f, char *container)
{
	void *dst = container + f->offset;

	switch (f->kind) {
	case ACO_BOOL: *(bool *)dst = false; break;
	case ACO_STRING:
		free(*(char **)dst);
		*(char **)dst = NULL;
		break;
	case ACO_STRUCT: clear_struct(f->sub_struct, dst); break;
	case ACO_ENUM:
		*(int *)dst = 0;
		for (size_t i = 0; i < f->sub_enum->count; i++)
			if (f->sub_enum->variants[i].payload)
				clear_struct(f->sub_enum->variants[i].payload, container);
		break;
	default: store_int(f->kind, dst, 0); break;
	}
}

static void clear_struct(const struct aco_struct *st, char *base)
{
	for (size_t i = 0; i < st->count; i++)
		clear_value(&st->fields[i], base);
}

/* "a, b, c": the accepted names, for error messages. */
static void append_name(char *buf, size_t len, size_t *off, const char *name)
{
	int n;

	if (*off >= len)
		return;
	n = snprintf(buf + *off, len - *off, "%s%s", *off ? ", " : "", name);
	if (n > 0)
		*off += (size_t)n;
}

static void field_names(char *buf, size_t len, const struct aco_struct *st)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < st->count; i++)
		append_name(buf, len, &off, st->fields[i].name);
}

static void variant_names(char *buf, size_t len, const struct aco_enum *en)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < en->count; i++)
		append_name(buf, len, &off, en->variants[i].name);
}

static const struct aco_variant *find_variant(const struct aco_enum *en, struct slice name)
{
	for (size_t i = 0; i < en->count; i++)
		if (slice_eq(name, en->variants[i].name) || slice_eq(name, en->variants[i].alias))
			return &en->variants[i];
	return NULL;
}

/* "variant[,payload-keys]": the tag goes to container + tag_offset, the
 * payload fields (relative to container) of other variants are cleared. */
static int parse_enum(struct parse_ctx *ctx, const struct aco_enum *en, struct slice in,
		      char *container, size_t tag_offset)
{
	struct slice name = take_value(&in);
	const struct aco_variant *v = find_variant(en, name);

	if (!v) {
		char names[256];
		variant_names(names, sizeof(names), en);
		return fail(ctx, "unknown variant '%.*s' (expected one of: %s)", (int)name.n,
			    name.p, names);
	}
	for (size_t i = 0; i < en->count; i++) {
		const struct aco_struct *p = en->variants[i].payload;
		if (p && p != v->payload)
			clear_struct(p, container);
	}
	*(int *)(container + tag_offset) = v->value;
	if (v->payload)
		return parse_struct_body(ctx, v->payload, in, container);
	if (in.n)
		return fail(ctx, "'%s' takes no options, got '%.*s'", v->name, (int)in.n, in.p);
	return 0;
}

static int parse_value(struct parse_ctx *ctx, const struct aco_field *f, struct slice val,
		       char *container)
{
	void *dst = container + f->offset;
	bool was_id;

	if (deref(ctx, &val, &was_id) < 0)
		return -1;
	if (was_id && f->optional && val.n == 0) { /* an empty object means "none" */
		clear_value(f, container);
		return 0;
	}
	switch (f->kind) {
	case ACO_BOOL: return parse_bool(ctx, val, dst);
	case ACO_STRING: store_string(dst, val); return 0;
	case ACO_STRUCT: return parse_struct_body(ctx, f->sub_struct, val, dst);
	case ACO_ENUM: return parse_enum(ctx, f->sub_enum, val, container, f->offset);
	default: return parse_int(ctx, f->kind, val, dst);
	}
}

static const struct aco_field *find_field(const struct aco_struct *st, struct slice key,
					  size_t *index)
{
	for (size_t i = 0; i < st->count; i++) {
		const struct aco_field *f = &st->fields[i];
		if (slice_eq(key, f->name) || slice_eq(key, f->alias)) {
			*index = i;
			return f;
		}
	}
	return NULL;
}

static int apply_default(struct parse_ctx *ctx, const struct aco_field *f, char *base)
{
	size_t old;
	int ret;

	if (!f->dflt && f->optional) {
		clear_value(f, base);
		return 0;
	}
	if (!f->dflt)
		return fail(ctx, "missing key '%s'", f->name);
	old = path_push(ctx, f->name);
	ret = parse_value(ctx, f, slice_of(f->dflt), base);
	path_pop(ctx, old);
	return ret;
}

static int parse_key_value(struct parse_ctx *ctx, const struct aco_struct *st,
			   struct slice *in, char *base, bool *seen)
{
	struct slice probe = *in;
	struct slice key;
	const struct aco_field *f;
	size_t index = 0, old;
	bool has_eq;
	int ret;

	key = take_until(&probe, '=', &has_eq);
	if (!has_eq || memchr(key.p, ',', key.n)) {
		struct slice item = take_value(in);
		return fail(ctx, "expected key=value, got '%.*s'", (int)item.n, item.p);
	}
	*in = probe;
	f = find_field(st, key, &index);
	if (!f) {
		char names[256];
		field_names(names, sizeof(names), st);
		return fail(ctx, "unknown key '%.*s' (expected one of: %s)", (int)key.n, key.p,
			    names);
	}
	if (seen[index])
		return fail(ctx, "key '%s' given more than once", f->name);
	seen[index] = true;
	old = path_push(ctx, f->name);
	ret = parse_value(ctx, f, take_value(in), base);
	path_pop(ctx, old);
	return ret;
}

static int parse_struct_body(struct parse_ctx *ctx, const struct aco_struct *st,
			     struct slice in, char *base)
{
	bool seen[MAX_FIELDS] = { false };

	if (st->count > MAX_FIELDS)
		abort(); /* a table bug, not an input error */
	while (in.n) {
		if (parse_key_value(ctx, st, &in, base, seen) < 0)
			return -1;
	}
	for (size_t i = 0; i < st->count; i++) {
		if (!seen[i] && apply_default(ctx, &st->fields[i], base) < 0)
			return -1;
	}
	return 0;
}

int aco_parse(const struct aco_field *root, const char *input, void *obj,
	      const struct aco_objects *objs, char *err, size_t errlen)
{
	struct parse_ctx ctx = { .objs = objs, .err = err, .errlen = errlen };
	struct slice in = slice_of(input);
	struct slice val;

	if (err && errlen)
		err[0] = '\0';
	switch (root->kind) {
	case ACO_STRING: /* a whole argument may hold commas */
		store_string((char **)((char *)obj + root->offset), in);
		return 0;
	case ACO_STRUCT:
		return parse_struct_body(&ctx, root->sub_struct, in, (char *)obj + root->offset);
	case ACO_ENUM:
		return parse_enum(&ctx, root->sub_enum, in, obj, root->offset);
	default:
		val = take_value(&in);
		if (in.n)
			return fail(&ctx, "unexpected trailing input '%.*s'", (int)in.n, in.p);
		if (root->kind == ACO_BOOL)
			return parse_bool(&ctx, val, (bool *)((char *)obj + root->offset));
		return parse_int(&ctx, root->kind, val, (char *)obj + root->offset);
	}
}

/* ---- help ---- */

/* Struct and enum types met while describing the top-level fields; each is
 * described once after the main text, like serde-aco's "# Type" sections. */
struct extra_types {
	const void *types[32];
	bool is_enum[32];
	size_t count;
};

static void add_extra_struct(struct extra_types *extra, const struct aco_struct *st);
static void add_extra_enum(struct extra_types *extra, const struct aco_enum *en);

static bool extra_seen(struct extra_types *extra, const char *name)
{
	for (size_t i = 0; i < extra->count; i++) {
		const char *seen = extra->is_enum[i] ?
			((const struct aco_enum *)extra->types[i])->name :
			((const struct aco_struct *)extra->types[i])->name;
		if (!strcmp(seen, name))
			return true;
	}
	return false;
}

static bool extra_push(struct extra_types *extra, const void *type, bool is_enum,
		       const char *name)
{
	if (extra_seen(extra, name) || extra->count == ARRAY_SIZE(extra->types))
		return false;
	extra->types[extra->count] = type;
	extra->is_enum[extra->count++] = is_enum;
	return true;
}

static void add_extra_field(struct extra_types *extra, const struct aco_field *f)
{
	if (f->kind == ACO_STRUCT)
		add_extra_struct(extra, f->sub_struct);
	else if (f->kind == ACO_ENUM)
		add_extra_enum(extra, f->sub_enum);
}

static void add_extra_struct(struct extra_types *extra, const struct aco_struct *st)
{
	if (!extra_push(extra, st, false, st->name))
		return;
	for (size_t i = 0; i < st->count; i++)
		add_extra_field(extra, &st->fields[i]);
}

static void add_extra_enum(struct extra_types *extra, const struct aco_enum *en)
{
	if (!extra_push(extra, en, true, en->name))
		return;
	for (size_t i = 0; i < en->count; i++)
		if (en->variants[i].payload)
			add_extra_struct(extra, en->variants[i].payload);
}

static void next_line(FILE *out, int indent)
{
	fprintf(out, "\n%*s", indent, "");
}

static const char *type_name(const struct aco_field *f)
{
	switch (f->kind) {
	case ACO_BOOL: return "bool";
	case ACO_STRING: return "string";
	case ACO_STRUCT: return f->sub_struct->name;
	case ACO_ENUM: return f->sub_enum->name;
	default: return "integer";
	}
}

static void key_val_pairs(FILE *out, struct extra_types *extra, const char *variant,
			  const struct aco_struct *st)
{
	bool comma = variant != NULL;

	if (variant)
		fputs(variant, out);
	for (size_t i = 0; i < st->count; i++) {
		const struct aco_field *f = &st->fields[i];
		fprintf(out, "%s%s=<%s>", comma ? "," : "", f->name, type_name(f));
		comma = true;
		if (extra)
			add_extra_field(extra, f);
	}
}

static void field_doc(FILE *out, const struct aco_field *f, int indent, int width)
{
	char doc[1024];
	const char *line, *end;
	bool first = true;

	if (f->dflt && f->dflt[0])
		snprintf(doc, sizeof(doc), "%s [default: %s]", f->doc, f->dflt);
	else
		snprintf(doc, sizeof(doc), "%s", f->doc);
	next_line(out, indent);
	for (line = doc; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (first)
			fprintf(out, "- %-*s\t%.*s", width, f->name, (int)(end - line), line);
		else
			fprintf(out, "\n%*s\t%.*s", indent + width + 2, "", (int)(end - line), line);
		first = false;
	}
}

static void field_helps(FILE *out, int indent, const struct aco_struct *st)
{
	int width = 0;

	for (size_t i = 0; i < st->count; i++)
		width = MAX(width, (int)strlen(st->fields[i].name));
	for (size_t i = 0; i < st->count; i++)
		if (st->fields[i].doc && st->fields[i].doc[0])
			field_doc(out, &st->fields[i], indent, width);
}

static void struct_help(FILE *out, struct extra_types *extra, const char *desc,
			const struct aco_struct *st, int indent)
{
	fputs(desc, out);
	next_line(out, indent);
	fputs("* ", out);
	key_val_pairs(out, extra, NULL, st);
	field_helps(out, indent + 2, st);
}

static bool enum_all_unit_help(FILE *out, const struct aco_enum *en, int indent)
{
	int width = 0;

	for (size_t i = 0; i < en->count; i++) {
		if (en->variants[i].payload)
			return false;
		width = MAX(width, (int)strlen(en->variants[i].name));
	}
	if (!en->count)
		return false;
	for (size_t i = 0; i < en->count; i++) {
		next_line(out, indent);
		fprintf(out, "* %-*s\t%s", width, en->variants[i].name, en->variants[i].doc);
	}
	return true;
}

static void enum_help(FILE *out, struct extra_types *extra, const char *doc,
		      const struct aco_enum *en, int indent)
{
	fputs(doc, out);
	if (enum_all_unit_help(out, en, indent))
		return;
	if (!en->count) {
		next_line(out, indent);
		fputs("No options available", out);
	}
	for (size_t i = 0; i < en->count; i++) {
		const struct aco_variant *v = &en->variants[i];
		next_line(out, indent);
		fputs("* ", out);
		if (v->payload)
			key_val_pairs(out, extra, v->name, v->payload);
		else
			fputs(v->name, out);
		next_line(out, indent + 2);
		fputs(v->doc, out);
		if (v->payload)
			field_helps(out, indent + 2, v->payload);
	}
}

void aco_help(FILE *out, const char *doc, const struct aco_field *root)
{
	struct extra_types extra = { .count = 0 };

	if (root->kind == ACO_STRUCT)
		struct_help(out, &extra, doc, root->sub_struct, 0);
	else if (root->kind == ACO_ENUM)
		enum_help(out, &extra, doc, root->sub_enum, 0);
	else
		fputs(doc, out);
	for (size_t i = 0; i < extra.count; i++) {
		next_line(out, 0);
		fputs("# ", out);
		if (extra.is_enum[i]) {
			const struct aco_enum *en = extra.types[i];
			enum_help(out, NULL, en->name, en, 2);
		} else {
			const struct aco_struct *st = extra.types[i];
			struct_help(out, NULL, st->name, st, 2);
		}
	}
}
