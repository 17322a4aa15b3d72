/* Alioth's "key=value,key=value" option syntax (serde-aco). A value type is
 * declared once as a table - struct fields or enum variants, each with key,
 * alias, C offset, default and doc - and the same table both parses an
 * argument into a C object and renders the --help text for it. */
#ifndef ALIOTH_CLI_ACO_H
#define ALIOTH_CLI_ACO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum aco_kind {
	ACO_BOOL,   /* bool */
	ACO_U8,     /* uint8_t */
	ACO_U16,    /* uint16_t */
	ACO_U32,    /* uint32_t */
	ACO_U64,    /* uint64_t */
	ACO_STRING, /* char *, heap-owned; the old value is freed on store */
	ACO_STRUCT, /* a nested table; its offsets are relative to this field */
	ACO_ENUM,   /* an int tag; payload offsets share this field's container */
};

struct aco_struct;
struct aco_enum;

struct aco_field {
	const char *name;  /* the key shown in help (Alioth's shortest alias) */
	const char *alias; /* another accepted key, or NULL */
	enum aco_kind kind;
	size_t offset;
	/* Parsed when the key is absent and shown as "[default: ...]". NULL
	 * means the key is required, unless optional is set. */
	const char *dflt;
	bool optional;     /* absent: strings stay NULL, others zero */
	const char *doc;
	const struct aco_struct *sub_struct; /* ACO_STRUCT */
	const struct aco_enum *sub_enum;     /* ACO_ENUM */
};

struct aco_struct {
	const char *name; /* type name, e.g. "CpuTopology", used in help */
	const struct aco_field *fields;
	size_t count;
};

struct aco_variant {
	const char *name;  /* shown in help */
	const char *alias; /* another accepted spelling, or NULL */
	int value;         /* stored into the tag */
	const char *doc;
	const struct aco_struct *payload; /* NULL: a unit variant */
};

struct aco_enum {
	const char *name;
	const struct aco_variant *variants;
	size_t count;
};

#define ACO_TABLE(type_name, array) { type_name, array, sizeof(array) / sizeof((array)[0]) }

/* -o/--object id_NAME,VALUE: text substituted for a value spelled id_NAME. */
struct aco_object {
	char *id;
	char *value;
};

struct aco_objects {
	struct aco_object *items;
	size_t count;
};

/* Adds one "-o" argument. Returns 0, or -1 with a reason in err. */
int aco_objects_add(struct aco_objects *objs, const char *arg, char *err, size_t errlen);
void aco_objects_free(struct aco_objects *objs);

/* Parses input as the type described by root (root->offset locates the
 * value inside obj, which must be initialised: strings NULL or heap-owned).
 * objs may be NULL. Returns 0, or -1 with a one-line reason in err. */
int aco_parse(const struct aco_field *root, const char *input, void *obj,
	      const struct aco_objects *objs, char *err, size_t errlen);

/* Writes Alioth's help text for root's type: doc, the syntax line(s), one
 * line per documented field, then "# Type" sections for nested types. No
 * trailing newline. */
void aco_help(FILE *out, const char *doc, const struct aco_field *root);

#endif
