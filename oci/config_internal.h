/* What the files of the config parser share (config.c, config_json.c,
 * config_linux.c) and nothing outside oci/ may use: json-c's types stay
 * here, behind oci/config.h. */
#ifndef HUSK_OCI_CONFIG_INTERNAL_H
#define HUSK_OCI_CONFIG_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "oci/config.h"

/* The JSON path of a value, for error messages ("process.args[2]"). */
#define OCI_JSON_PATHLEN 256

typedef struct json_object jobj;

/* Text to tree: NULL with *err naming WHAT ("config.json") when the text
 * is not JSON or is past the limits in config.h. */
jobj *oci_json_parse(const char *json, size_t len, const char *what, husk_error_t *err);

/* Member KEY of object O, or NULL when absent (or JSON null). */
jobj *oci_json_member(jobj *o, const char *key);
/* PARENT.KEY and PARENT[I] into OUT (OCI_JSON_PATHLEN bytes). */
void oci_json_child_path(char *out, const char *parent, const char *key);
void oci_json_index_path(char *out, const char *parent, size_t i);

/* The typed readers: each checks V's JSON type and range and fails with
 * an error naming PATH. "PATH: must be WANT". */
int oci_json_type_error(const char *path, const char *want, husk_error_t *err);
int oci_json_want_object(jobj *v, const char *path, husk_error_t *err);
int oci_json_bool(jobj *v, const char *path, bool *out, husk_error_t *err);
/* A string without NUL bytes, strdup'd. */
int oci_json_string(jobj *v, const char *path, char **out, husk_error_t *err);
int oci_json_int64(jobj *v, const char *path, int64_t min, int64_t max, int64_t *out,
		   husk_error_t *err);
int oci_json_uint64(jobj *v, const char *path, uint64_t *out, husk_error_t *err);
int oci_json_uint32(jobj *v, const char *path, uint32_t *out, husk_error_t *err);
/* A uid or gid. */
int oci_json_id(jobj *v, const char *path, uint32_t *out, husk_error_t *err);
/* An array of strings into *OUT, NULL-terminated; *N counts the strings
 * read so far, so that a failure leaves what oci_strv_free() takes. */
int oci_json_strings(jobj *v, const char *path, char ***out, size_t *n, husk_error_t *err);
void oci_strv_free(char **a);

/* Every element of array V (at PATH) is an object, parsed by FN into the
 * I-th of *N structs of SIZE bytes that *ARR gets, zeroed. *N counts the
 * elements begun, so that a failure leaves what the free function takes. */
typedef int oci_json_elem_fn(jobj *e, const char *path, void *elem, size_t i, void *ctx,
			     husk_error_t *err);
int oci_json_each_object(jobj *v, const char *path, void *arr, size_t *n, size_t size,
			 oci_json_elem_fn *fn, void *ctx, husk_error_t *err);

/* Every element of array V (at PATH) is a string, given to FN with its
 * path and index. */
typedef int oci_json_string_fn(const char *s, const char *path, size_t i, void *ctx,
			       husk_error_t *err);
int oci_json_each_string(jobj *v, const char *path, oci_json_string_fn *fn, void *ctx,
			 husk_error_t *err);

/* An object of strings (annotations, linux.sysctl) into *OUT, *N pairs;
 * CHECK, when given, vets each key (at PATH, the member's path). */
typedef int oci_json_key_check_fn(const char *key, const char *path, husk_error_t *err);
int oci_json_string_map(jobj *v, const char *path, struct oci_kv **out, size_t *n,
			oci_json_key_check_fn *check, husk_error_t *err);

/* A member of an object as one line of a table: its JSON name, how it is
 * read and where it goes. oci_json_read_fields() reads the members in
 * the table's order (the order the parser has always checked them in,
 * so that a config with two faults keeps being told of the same one).
 * Scalars need no code of their own; the rest name a parse function
 * (OCI_CUSTOM), called only when the member is there. */
enum oci_field_type {
	OCI_FIELD_BOOL,
	OCI_FIELD_STRING,   /* char *; max: the longest length (0: any) */
	OCI_FIELD_ABS_PATH, /* char *, starting with '/' */
	OCI_FIELD_STRINGS,  /* char **, NULL-terminated; count: their number */
	OCI_FIELD_INT,	    /* int in [min, max] */
	OCI_FIELD_INT64,    /* int64_t in [min, max] */
	OCI_FIELD_UINT32,   /* uint32_t in [min, max] */
	OCI_FIELD_UINT64,
	OCI_FIELD_ID,	  /* uint32_t: a uid or gid */
	OCI_FIELD_NAME,	  /* int: the string's index in names ("unknown WHAT") */
	OCI_FIELD_OBJECT, /* an object whose members the table sub reads */
	OCI_FIELD_CUSTOM,
};

struct oci_name_table;

struct oci_field {
	const char *name;
	enum oci_field_type type;
	size_t offset; /* of the value in the struct the table reads into */
	bool required;
	/* One more than the offset of a bool set when the member is there,
	 * and of the size_t count of OCI_FIELD_STRINGS; 0: none. */
	size_t has, count;
	int64_t min, max;
	const struct oci_name_table *names;
	const char *what;
	const struct oci_field *sub;
	int (*parse)(jobj *v, const char *path, void *obj, husk_error_t *err);
};

/* offsetof(ST, M), refused at compile time unless M has type CTYPE. */
#define OCI_FIELD_AT(st, m, ctype) (offsetof(st, m) + 0 * sizeof((ctype *){ 0 } = &((st *)0)->m))

#define OCI_BOOL(st, m) .type = OCI_FIELD_BOOL, .offset = OCI_FIELD_AT(st, m, bool)
#define OCI_STRING(st, m) .type = OCI_FIELD_STRING, .offset = OCI_FIELD_AT(st, m, char *)
#define OCI_ABS_PATH(st, m) .type = OCI_FIELD_ABS_PATH, .offset = OCI_FIELD_AT(st, m, char *)
#define OCI_STRINGS(st, m) .type = OCI_FIELD_STRINGS, .offset = OCI_FIELD_AT(st, m, char **)
#define OCI_INT(st, m, lo, hi) \
	.type = OCI_FIELD_INT, .offset = OCI_FIELD_AT(st, m, int), .min = (lo), .max = (hi)
#define OCI_INT64(st, m, lo, hi) \
	.type = OCI_FIELD_INT64, .offset = OCI_FIELD_AT(st, m, int64_t), .min = (lo), .max = (hi)
#define OCI_UINT32(st, m, lo, hi) \
	.type = OCI_FIELD_UINT32, .offset = OCI_FIELD_AT(st, m, uint32_t), .min = (lo), .max = (hi)
#define OCI_UINT64(st, m) .type = OCI_FIELD_UINT64, .offset = OCI_FIELD_AT(st, m, uint64_t)
#define OCI_ID(st, m) .type = OCI_FIELD_ID, .offset = OCI_FIELD_AT(st, m, uint32_t)
#define OCI_NAME(st, m, table, noun) \
	.type = OCI_FIELD_NAME, .offset = OCI_FIELD_AT(st, m, int), .names = (table), .what = (noun)
/* An object whose members go into the same struct, or into member M. */
#define OCI_OBJECT(fields) .type = OCI_FIELD_OBJECT, .sub = (fields)
#define OCI_OBJECT_AT(st, m, fields) \
	.type = OCI_FIELD_OBJECT, .offset = offsetof(st, m), .sub = (fields)
#define OCI_CUSTOM(fn) .type = OCI_FIELD_CUSTOM, .parse = (fn)
#define OCI_HAS(st, m) .has = OCI_FIELD_AT(st, m, bool) + 1
#define OCI_COUNT(st, m) .count = OCI_FIELD_AT(st, m, size_t) + 1
#define OCI_REQUIRED .required = true

/* The members of object O (at PATH) that FIELDS, ended by an entry
 * without a name, describe, into OBJ. O is known to be an object. */
int oci_json_read_fields(jobj *o, const char *path, const struct oci_field *fields, void *obj,
			 husk_error_t *err);

/* linux.* (config_linux.c): its members, read into a struct oci_config,
 * and the freeing of what they took. */
extern const struct oci_field oci_linux_fields[];
void oci_linux_release(struct oci_config *c);

#endif
