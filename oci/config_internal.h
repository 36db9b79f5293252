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
/* OBJ's member NAME (PATH.NAME in errors), a uid or gid, into *OUT when
 * it is there; otherwise *OUT keeps its default. */
int oci_json_opt_id(jobj *obj, const char *path, const char *name, uint32_t *out,
		    husk_error_t *err);
/* OBJ's member NAME (PATH.NAME in errors) as an absolute path into *OUT.
 * A missing member is an error when REQUIRED; otherwise *OUT is left alone. */
int oci_json_abs_path(jobj *obj, const char *path, const char *name, bool required, char **out,
		      husk_error_t *err);
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

/* linux.* (config_linux.c): parse V, at PATH, into C; free what it took. */
int oci_linux_parse(jobj *v, const char *path, struct oci_config *c, husk_error_t *err);
void oci_linux_release(struct oci_config *c);

#endif
