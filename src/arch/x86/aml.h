/* A small AML (ACPI Machine Language) byte-code writer for building the
 * DSDT in C. Terms are emitted in AML's own prefix order: an operator
 * first, then its operands. Objects with a PkgLength (Scope, Device, Method,
 * If, Else, Package, Buffer) are opened with *_begin and closed by aml_end. */
#ifndef ALIOTH_ARCH_X86_AML_H
#define ALIOTH_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Marks an open object; returned by *_begin, consumed by the matching end. */
typedef size_t aml_mark;

void aml_init(struct aml *a);
void aml_free(struct aml *a);
void aml_append_bytes(struct aml *a, const void *bytes, size_t n);
void aml_append(struct aml *a, const struct aml *other);

/* Encodes a PkgLength for a package of `len` bytes (the encoding itself
 * included) into out[4]; returns the encoding's size (1-4) or 0 if len is
 * too large (>= 2^28). */
size_t aml_pkglength_encode(size_t len, uint8_t out[4]);

/* Name strings: "\\" root prefix, any number of "^" parent prefixes, then
 * dot-separated segments of 1-4 characters (padded with '_'). An empty path
 * after the prefixes is the NullName. Aborts on a malformed path: paths are
 * always literals in this program. */
void aml_name_string(struct aml *a, const char *path);

/* Data objects. aml_integer picks the shortest encoding. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id);  /* "PNP0501": 3 letters, 4 hex digits */
void aml_touuid(struct aml *a, const char *uuid);  /* 16-byte Buffer */
void aml_buffer(struct aml *a, const void *bytes, size_t n);

/* Named objects and blocks. */
void aml_name(struct aml *a, const char *path);  /* Name(path, <next term>) */
aml_mark aml_scope_begin(struct aml *a, const char *path);
aml_mark aml_device_begin(struct aml *a, const char *path);
aml_mark aml_method_begin(struct aml *a, const char *path, unsigned nargs, bool serialized);
aml_mark aml_package_begin(struct aml *a, unsigned nelems);
aml_mark aml_if_begin(struct aml *a);    /* predicate, then the body */
aml_mark aml_else_begin(struct aml *a);  /* directly after an If's end */
void aml_end(struct aml *a, aml_mark m);
/* A Buffer whose contents are appended between begin and end; the size
 * operand is computed at the end. */
aml_mark aml_buffer_begin(struct aml *a);
void aml_buffer_end(struct aml *a, aml_mark m);

/* Operators and operand references. */
void aml_return(struct aml *a);  /* Return(<next term>) */
void aml_lequal(struct aml *a);  /* LEqual(<term>, <term>) */
void aml_arg(struct aml *a, unsigned n);    /* Arg0..Arg6 */
void aml_local(struct aml *a, unsigned n);  /* Local0..Local7 */

/* ResourceTemplate: a Buffer of descriptors closed by an EndTag. */
aml_mark aml_resource_template_begin(struct aml *a);
void aml_resource_template_end(struct aml *a, aml_mark m);

enum aml_mem_cache {
	AML_NON_CACHEABLE = 0,
	AML_CACHEABLE = 1,
	AML_WRITE_COMBINING = 2,
	AML_PREFETCHABLE = 3,
};

/* IO (Decode16, min, max, align, len) */
void aml_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags () { irqs in mask } */
void aml_irq_noflags(struct aml *a, uint16_t mask);
/* Interrupt (ResourceConsumer, edge/level, ActiveHigh/Low, Exclusive/Shared) {gsi} */
void aml_interrupt(struct aml *a, bool edge, bool active_low, bool shared, uint32_t gsi);
/* Address-space windows a host bridge produces: ResourceProducer, PosDecode,
 * MinFixed, MaxFixed, granularity 0, translation 0, length max - min + 1. */
void aml_word_bus_number(struct aml *a, uint16_t min, uint16_t max);
void aml_word_io(struct aml *a, uint16_t min, uint16_t max);  /* EntireRange */
void aml_dword_memory(struct aml *a, enum aml_mem_cache cache, uint32_t min, uint32_t max);
void aml_qword_memory(struct aml *a, enum aml_mem_cache cache, uint64_t min, uint64_t max);

#endif
