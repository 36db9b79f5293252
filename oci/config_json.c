/* The JSON side of the config parser: text to a json-c tree within the
 * limits config.h sets (scan_json counts them before json-c allocates),
 * and the typed readers every member of config.json goes through. Apart
 * from config.c so that the readers are one set, with one wording of
 * every error, whichever part of the spec uses them. */
#include "oci/config_internal.h"

#include <errno.h>
#include <json-c/json_visit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/tables.h"

int oci_json_type_error(const char *path, const char *want, husk_error_t *err)
{
	return husk_error_set(err, 0, "%s: must be %s", path, want);
}

/* Member KEY of object O, or NULL when absent (or JSON null). */
jobj *oci_json_member(jobj *o, const char *key)
{
	jobj *v = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

void oci_json_child_path(char *out, const char *parent, const char *key)
{
	/* A path too long to show ends in "..."; it is only for messages. */
	if (snprintf(out, OCI_JSON_PATHLEN, "%s%s%s", parent, *parent ? "." : "", key) >=
	    OCI_JSON_PATHLEN)
		memcpy(out + OCI_JSON_PATHLEN - 4, "...", 4);
}

void oci_json_index_path(char *out, const char *parent, size_t i)
{
	if (snprintf(out, OCI_JSON_PATHLEN, "%s[%zu]", parent, i) >= OCI_JSON_PATHLEN)
		memcpy(out + OCI_JSON_PATHLEN - 4, "...", 4);
}

int oci_json_want_object(jobj *v, const char *path, husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_object))
		return oci_json_type_error(path, "an object", err);
	return 0;
}

int oci_json_bool(jobj *v, const char *path, bool *out, husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_boolean))
		return oci_json_type_error(path, "a boolean", err);
	*out = json_object_get_boolean(v);
	return 0;
}

int oci_json_string(jobj *v, const char *path, char **out, husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_string))
		return oci_json_type_error(path, "a string", err);
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n)
		return husk_error_set(err, 0, "%s: contains a NUL byte", path);
	*out = strdup(s);
	if (!*out)
		return husk_error_set(err, ENOMEM, "%s", path);
	return 0;
}

/* json-c reads an integer literal beyond int64 and uint64 as the nearest
 * bound, silently: 18446744073709551616 would read as 18446744073709551615
 * (RLIM_INFINITY), a seccomp argument as another number. oci_json_parse marks
 * the values that stand for such a literal with this. */
static const char saturated_mark;

static bool saturated(jobj *v)
{
	return json_object_get_userdata(v) == &saturated_mark;
}

int oci_json_int64(jobj *v, const char *path, int64_t min, int64_t max, int64_t *out,
		   husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_int))
		return oci_json_type_error(path, "an integer", err);
	if (saturated(v))
		return husk_error_set(err, 0, "%s: out of range [%lld, %lld]", path, (long long)min,
				      (long long)max);
	int64_t x = json_object_get_int64(v);
	/* json-c saturates values beyond int64; a uint64 above INT64_MAX
	 * reads as INT64_MAX here, which the range check catches. */
	if (x < min || x > max ||
	    (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
		return husk_error_set(err, 0, "%s: %s out of range [%lld, %lld]", path,
				      json_object_to_json_string(v), (long long)min,
				      (long long)max);
	*out = x;
	return 0;
}

int oci_json_uint64(jobj *v, const char *path, uint64_t *out, husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_int))
		return oci_json_type_error(path, "an integer", err);
	if (json_object_get_int64(v) < 0)
		return husk_error_set(err, 0, "%s: must not be negative", path);
	if (saturated(v))
		return husk_error_set(err, 0, "%s: larger than %llu", path,
				      (unsigned long long)UINT64_MAX);
	*out = json_object_get_uint64(v);
	return 0;
}

int oci_json_uint32(jobj *v, const char *path, uint32_t *out, husk_error_t *err)
{
	int64_t x;
	if (oci_json_int64(v, path, 0, UINT32_MAX, &x, err) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* A uid or gid. (uid_t)-1 is not one: chown() and setresuid() read it as
 * "leave unchanged", so a device would stay root's and setgroups() fails. */
int oci_json_id(jobj *v, const char *path, uint32_t *out, husk_error_t *err)
{
	int64_t x;
	if (oci_json_int64(v, path, 0, UINT32_MAX - 1, &x, err) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* An array of strings, NULL-terminated. */
int oci_json_strings(jobj *v, const char *path, char ***out, size_t *n, husk_error_t *err)
{
	char p[OCI_JSON_PATHLEN];

	if (!json_object_is_type(v, json_type_array))
		return oci_json_type_error(path, "an array of strings", err);
	size_t len = json_object_array_length(v);
	char **a = calloc(len + 1, sizeof(*a));
	if (!a)
		return husk_error_set(err, ENOMEM, "%s", path);
	*out = a;
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		oci_json_index_path(p, path, i);
		if (oci_json_string(json_object_array_get_idx(v, i), p, &a[i], err) < 0)
			return -1;
		*n = i + 1;
	}
	return 0;
}

void oci_strv_free(char **a)
{
	if (!a)
		return;
	for (char **s = a; *s; s++)
		free(*s);
	free(a);
}

/* What oci_json_parse() learns from the text before json-c builds a tree. */
struct json_scan {
	size_t containers; /* objects and arrays */
	size_t values;	   /* a bound on how many values: separators + 1 */
	/* Integer literals at the bounds json-c saturates to
	 * (-9223372036854775808, 18446744073709551615) and beyond them. */
	size_t at_bound, beyond_bound, first_beyond;
	size_t too_deep; /* offset of the first bracket past OCI_JSON_MAX_DEPTH, or 0 */
};

/* One pass over the text, outside strings and comments. */
static void scan_json(const char *s, size_t len, struct json_scan *out)
{
	size_t depth = 0;

	*out = (struct json_scan){ .values = 1 };
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '"' || c == '\'') {
			for (i++; i < len && s[i] != c; i++)
				if (s[i] == '\\')
					i++;
			continue;
		}
		if (c == '/' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '/')) {
			bool block = s[i + 1] == '*';
			for (i += 2; i < len; i++)
				if (block ? s[i] == '*' && i + 1 < len && s[i + 1] == '/'
					  : s[i] == '\n')
					break;
			i += block;
			continue;
		}
		if ((c == '{' || c == '[') && ++depth > OCI_JSON_MAX_DEPTH && !out->too_deep)
			out->too_deep = i;
		depth -= depth && (c == '}' || c == ']');
		out->containers += c == '{' || c == '[';
		out->values += c == ',' || c == '{' || c == '[';
		if (c != '-' && (c < '0' || c > '9'))
			continue;
		size_t start = i;
		bool neg = c == '-';
		i += neg;
		while (i < len && s[i] == '0')
			i++;
		size_t digits = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		size_t n = i - digits;
		bool integer = !(i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E'));
		while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' ||
				   s[i] == 'E' || s[i] == '+' || s[i] == '-'))
			i++;
		i--;
		if (!integer)
			continue;
		const char *bound = neg ? "9223372036854775808" : "18446744073709551615";
		size_t bn = strlen(bound);
		int cmp = n != bn ? (n > bn) - (n < bn) : memcmp(s + digits, bound, bn);
		if (cmp > 0 && !out->beyond_bound++)
			out->first_beyond = start;
		out->at_bound += cmp == 0;
	}
}

static int mark_saturated(jobj *v, int flags, jobj *parent, const char *key, size_t *index,
			  void *arg)
{
	(void)flags, (void)parent, (void)key, (void)index, (void)arg;
	if (json_object_is_type(v, json_type_int) &&
	    (json_object_get_int64(v) == INT64_MIN || json_object_get_uint64(v) == UINT64_MAX))
		json_object_set_userdata(v, (void *)&saturated_mark, NULL);
	return JSON_C_VISIT_RETURN_CONTINUE;
}

jobj *oci_json_parse(const char *json, size_t len, const char *what, husk_error_t *err)
{
	if (len >= OCI_CONFIG_MAX) {
		husk_error_set(err, 0, "%s: %zu bytes, too large (the limit is %u MiB)", what, len,
			       OCI_CONFIG_MAX >> 20);
		return NULL;
	}
	/* json-c spends some 800 bytes on an empty object: 16 MiB of "{},"
	 * would cost 4 GiB and a minute. Counted first, from the text. */
	struct json_scan scan;
	scan_json(json, len, &scan);
	if (scan.too_deep) {
		husk_error_set(err, 0, "%s: invalid JSON: nested deeper than %d levels at byte %zu",
			       what, OCI_JSON_MAX_DEPTH, scan.too_deep);
		return NULL;
	}
	if (scan.containers > OCI_JSON_MAX_CONTAINERS) {
		husk_error_set(err, 0, "%s: more than %d objects and arrays (the limit)", what,
			       OCI_JSON_MAX_CONTAINERS);
		return NULL;
	}
	if (scan.values > OCI_JSON_MAX_VALUES) {
		husk_error_set(err, 0, "%s: more than %d values (the limit)", what,
			       OCI_JSON_MAX_VALUES);
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new_ex(OCI_JSON_MAX_DEPTH);
	if (!tok) {
		husk_error_set(err, ENOMEM, "%s", what);
		return NULL;
	}
	jobj *o = json_tokener_parse_ex(tok, json, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || e != json_tokener_success) {
		json_object_put(o);
		if (e == json_tokener_error_depth)
			husk_error_set(err, 0,
				       "%s: invalid JSON: nested deeper than %d levels at byte %zu",
				       what, OCI_JSON_MAX_DEPTH, end);
		else
			husk_error_set(err, 0, "%s: invalid JSON: %s", what,
				       !o && e == json_tokener_success ? "empty"
				       : e == json_tokener_continue    ? "unexpected end of input"
								    : json_tokener_error_desc(e));
		return NULL;
	}
	for (; end < len; end++)
		if (!memchr(" \t\r\n", json[end], 4)) {
			json_object_put(o);
			husk_error_set(err, 0, "%s: invalid JSON: trailing data at byte %zu", what,
				       end);
			return NULL;
		}
	if (scan.beyond_bound && scan.at_bound) {
		/* Which of the values at a bound was written as one is lost;
		 * refuse rather than guess. */
		json_object_put(o);
		husk_error_set(err, 0,
			       "%s: invalid JSON: integer at byte %zu out of range [%lld, %llu]",
			       what, scan.first_beyond, (long long)INT64_MIN,
			       (unsigned long long)UINT64_MAX);
		return NULL;
	}
	if (scan.beyond_bound)
		json_c_visit(o, 0, mark_saturated, NULL);
	return o;
}
int oci_json_each_object(jobj *v, const char *path, void *arr, size_t *n, size_t size,
			 oci_json_elem_fn *fn, void *ctx, husk_error_t *err)
{
	char ip[OCI_JSON_PATHLEN];
	char *a;

	if (!json_object_is_type(v, json_type_array))
		return oci_json_type_error(path, "an array", err);
	size_t len = json_object_array_length(v);
	a = calloc(len ? len : 1, size);
	if (!a)
		return husk_error_set(err, ENOMEM, "%s", path);
	*(void **)arr = a;
	for (size_t i = 0; i < len; i++) {
		jobj *e = json_object_array_get_idx(v, i);
		oci_json_index_path(ip, path, i);
		*n = i + 1;
		if (oci_json_want_object(e, ip, err) < 0 ||
		    fn(e, ip, a + i * size, i, ctx, err) < 0)
			return -1;
	}
	return 0;
}

static void *field_ptr(void *obj, size_t offset)
{
	return (char *)obj + offset;
}

static int read_field(jobj *v, const char *path, const struct oci_field *f, void *obj,
		      husk_error_t *err)
{
	void *out = field_ptr(obj, f->offset);
	int64_t x;

	switch (f->type) {
	case OCI_FIELD_BOOL: return oci_json_bool(v, path, out, err);
	case OCI_FIELD_STRING:
		if (oci_json_string(v, path, out, err) < 0)
			return -1;
		if (f->max && strlen(*(char **)out) > (size_t)f->max)
			return husk_error_set(err, 0, "%s: longer than %lld bytes", path,
					      (long long)f->max);
		return 0;
	case OCI_FIELD_ABS_PATH:
		if (oci_json_string(v, path, out, err) < 0)
			return -1;
		if ((*(char **)out)[0] != '/')
			return husk_error_set(err, 0, "%s: must be an absolute path", path);
		return 0;
	case OCI_FIELD_STRINGS:
		return oci_json_strings(v, path, out,
					f->count ? field_ptr(obj, f->count - 1) : &(size_t){ 0 },
					err);
	case OCI_FIELD_INT:
		if (oci_json_int64(v, path, f->min, f->max, &x, err) < 0)
			return -1;
		*(int *)out = (int)x;
		return 0;
	case OCI_FIELD_INT64: return oci_json_int64(v, path, f->min, f->max, out, err);
	case OCI_FIELD_UINT32:
		if (oci_json_int64(v, path, f->min, f->max, &x, err) < 0)
			return -1;
		*(uint32_t *)out = (uint32_t)x;
		return 0;
	case OCI_FIELD_UINT64: return oci_json_uint64(v, path, out, err);
	case OCI_FIELD_ID: return oci_json_id(v, path, out, err);
	case OCI_FIELD_NAME:
		if (!json_object_is_type(v, json_type_string))
			return oci_json_type_error(path, "a string", err);
		*(int *)out = oci_name_lookup(f->names, json_object_get_string(v));
		if (*(int *)out < 0)
			return husk_error_set(err, 0, "%s: unknown %s \"%s\"", path, f->what,
					      json_object_get_string(v));
		return 0;
	case OCI_FIELD_OBJECT:
		if (oci_json_want_object(v, path, err) < 0)
			return -1;
		return oci_json_read_fields(v, path, f->sub, out, err);
	case OCI_FIELD_CUSTOM: return f->parse(v, path, obj, err);
	}
	return husk_error_set(err, EINVAL, "%s: no reader", path);
}

int oci_json_read_fields(jobj *o, const char *path, const struct oci_field *fields, void *obj,
			 husk_error_t *err)
{
	char fp[OCI_JSON_PATHLEN];

	for (const struct oci_field *f = fields; f->name; f++) {
		jobj *v = oci_json_member(o, f->name);
		oci_json_child_path(fp, path, f->name);
		if (!v) {
			if (f->required)
				return husk_error_set(err, 0, "%s: required", fp);
			continue;
		}
		if (read_field(v, fp, f, obj, err) < 0)
			return -1;
		if (f->has)
			*(bool *)field_ptr(obj, f->has - 1) = true;
	}
	return 0;
}

int oci_json_string_map(jobj *v, const char *path, struct oci_kv **out, size_t *n,
			oci_json_key_check_fn *check, husk_error_t *err)
{
	char ip[OCI_JSON_PATHLEN];

	if (oci_json_want_object(v, path, err) < 0)
		return -1;
	size_t len = (size_t)json_object_object_length(v), i = 0;
	struct oci_kv *kv = calloc(len ? len : 1, sizeof(*kv));
	if (!kv)
		return husk_error_set(err, ENOMEM, "%s", path);
	*out = kv;
	json_object_object_foreach(v, key, val)
	{
		/* json-c counts a key once; stop should the walk see more. */
		if (i >= len)
			break;
		oci_json_child_path(ip, path, key);
		*n = i + 1;
		if (!(kv[i].key = strdup(key)))
			return husk_error_set(err, ENOMEM, "%s", ip);
		if (oci_json_string(val, ip, &kv[i].value, err) < 0)
			return -1;
		if (check && check(key, ip, err) < 0)
			return -1;
		i++;
	}
	return 0;
}

int oci_json_each_string(jobj *v, const char *path, oci_json_string_fn *fn, void *ctx,
			 husk_error_t *err)
{
	char ip[OCI_JSON_PATHLEN];

	if (!json_object_is_type(v, json_type_array))
		return oci_json_type_error(path, "an array of strings", err);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		jobj *e = json_object_array_get_idx(v, i);
		oci_json_index_path(ip, path, i);
		if (!json_object_is_type(e, json_type_string))
			return oci_json_type_error(ip, "a string", err);
		if (fn(json_object_get_string(e), ip, i, ctx, err) < 0)
			return -1;
	}
	return 0;
}
