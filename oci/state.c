/* State JSON: see state.h. */
#include "oci/state.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "oci/spec.h"

typedef struct json_object jobj;

static void add_str(jobj *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v ? v : ""));
}

static jobj *annotations_obj(const struct oci_state_record *r)
{
	jobj *a = json_object_new_object();
	for (size_t i = 0; i < r->nannotations; i++)
		add_str(a, r->annotations[i].key, r->annotations[i].value);
	return a;
}

static char *dump(jobj *o, int flags)
{
	const char *s = json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *text = s ? strdup(s) : NULL;
	json_object_put(o);
	return text;
}

char *oci_state_record_to_json(const struct oci_state_record *r)
{
	jobj *o = json_object_new_object();
	add_str(o, "id", r->id);
	json_object_object_add(o, "pid", json_object_new_int64(r->pid));
	json_object_object_add(o, "pid_start", json_object_new_uint64(r->pid_start));
	add_str(o, "bundle", r->bundle);
	add_str(o, "rootfs", r->rootfs);
	add_str(o, "created", r->created);
	json_object_object_add(o, "owner", json_object_new_int64(r->owner));
	json_object_object_add(o, "started", json_object_new_boolean(r->started));
	add_str(o, "cgroup_path", r->cgroup_path);
	json_object_object_add(o, "cgroup_created", json_object_new_boolean(r->cgroup_created));
	json_object_object_add(o, "annotations", annotations_obj(r));
	return dump(o, JSON_C_TO_STRING_PLAIN);
}

/* The record is husk's own file, but --root may be shared or tampered
 * with: every field is still type-checked. */
static int field(jobj *o, const char *key, enum json_type t, jobj **out, const char *what,
		 husk_error_t *err)
{
	if (!json_object_object_get_ex(o, key, out) || !json_object_is_type(*out, t))
		return husk_error_set(err, 0, "%s: field %s missing or of the wrong type", what,
				      key);
	return 0;
}

static int str_field(jobj *o, const char *key, char **out, const char *what, husk_error_t *err)
{
	jobj *v;
	if (field(o, key, json_type_string, &v, what, err) < 0)
		return -1;
	if (!(*out = strdup(json_object_get_string(v))))
		return husk_error_set(err, ENOMEM, "%s", what);
	return 0;
}

struct oci_state_record *oci_state_record_parse(const char *json, size_t len, const char *what,
						husk_error_t *err)
{
	struct json_tokener *tok = json_tokener_new();
	jobj *o = tok && len < (1u << 24) ? json_tokener_parse_ex(tok, json, (int)len) : NULL, *v;
	struct oci_state_record *r = NULL;

	if (tok)
		json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		husk_error_set(err, 0, "%s: not a state record (invalid JSON)", what);
		goto out;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		husk_error_set(err, ENOMEM, "%s", what);
		goto out;
	}
	if (str_field(o, "id", &r->id, what, err) < 0 ||
	    str_field(o, "bundle", &r->bundle, what, err) < 0 ||
	    str_field(o, "rootfs", &r->rootfs, what, err) < 0 ||
	    str_field(o, "created", &r->created, what, err) < 0 ||
	    str_field(o, "cgroup_path", &r->cgroup_path, what, err) < 0)
		goto fail;
	if (field(o, "pid", json_type_int, &v, what, err) < 0)
		goto fail;
	r->pid = (pid_t)json_object_get_int64(v);
	if (field(o, "pid_start", json_type_int, &v, what, err) < 0)
		goto fail;
	r->pid_start = json_object_get_uint64(v);
	if (field(o, "owner", json_type_int, &v, what, err) < 0)
		goto fail;
	r->owner = (uid_t)json_object_get_int64(v);
	if (field(o, "started", json_type_boolean, &v, what, err) < 0)
		goto fail;
	r->started = json_object_get_boolean(v);
	/* Records written before husk kept this field belong to containers
	 * whose cgroup delete always removed: they keep that behaviour. */
	r->cgroup_created = true;
	if (json_object_object_get_ex(o, "cgroup_created", &v)) {
		if (field(o, "cgroup_created", json_type_boolean, &v, what, err) < 0)
			goto fail;
		r->cgroup_created = json_object_get_boolean(v);
	}
	/* 0: create saved the record before it forked the VMM and did not
	 * get as far as saving its pid (killed or failed in between). */
	if (r->pid < 0) {
		husk_error_set(err, 0, "%s: pid %d is not a process id", what, (int)r->pid);
		goto fail;
	}
	if (field(o, "annotations", json_type_object, &v, what, err) < 0)
		goto fail;
	size_t n = (size_t)json_object_object_length(v);
	if (!(r->annotations = calloc(n ? n : 1, sizeof(*r->annotations)))) {
		husk_error_set(err, ENOMEM, "%s", what);
		goto fail;
	}
	json_object_object_foreach(v, key, val)
	{
		if (r->nannotations >= n)
			break;
		struct oci_kv *kv = &r->annotations[r->nannotations++];
		kv->key = strdup(key);
		kv->value = strdup(json_object_is_type(val, json_type_string)
					   ? json_object_get_string(val)
					   : "");
		if (!kv->key || !kv->value) {
			husk_error_set(err, ENOMEM, "%s", what);
			goto fail;
		}
	}
	goto out;
fail:
	oci_state_record_free(r);
	r = NULL;
out:
	json_object_put(o);
	return r;
}

void oci_state_record_free(struct oci_state_record *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->bundle);
	free(r->rootfs);
	free(r->created);
	free(r->cgroup_path);
	for (size_t i = 0; i < r->nannotations; i++) {
		free(r->annotations[i].key);
		free(r->annotations[i].value);
	}
	free(r->annotations);
	free(r);
}

static jobj *state_obj(const struct oci_state_record *r, const char *status, pid_t pid)
{
	jobj *o = json_object_new_object();
	add_str(o, "ociVersion", OCI_SPEC_VERSION);
	add_str(o, "id", r->id);
	json_object_object_add(o, "pid", json_object_new_int64(pid));
	add_str(o, "status", status);
	add_str(o, "bundle", r->bundle);
	add_str(o, "rootfs", r->rootfs);
	add_str(o, "created", r->created);
	json_object_object_add(o, "owner", json_object_new_string(""));
	if (r->nannotations)
		json_object_object_add(o, "annotations", annotations_obj(r));
	return o;
}

char *oci_state_to_json(const struct oci_state_record *r, const char *status, pid_t pid,
			bool pretty)
{
	return dump(state_obj(r, status, pid),
		    pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
			   : JSON_C_TO_STRING_PLAIN);
}

char *oci_list_to_json(const struct oci_list_entry *e, size_t n)
{
	jobj *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		jobj *o = json_object_new_object();
		add_str(o, "ociVersion", OCI_SPEC_VERSION);
		add_str(o, "id", e[i].r->id);
		json_object_object_add(o, "pid", json_object_new_int64(e[i].pid));
		add_str(o, "status", e[i].status);
		add_str(o, "bundle", e[i].r->bundle);
		add_str(o, "rootfs", e[i].r->rootfs);
		add_str(o, "created", e[i].r->created);
		add_str(o, "owner", "root");
		json_object_object_add(o, "annotations", annotations_obj(e[i].r));
		json_object_array_add(a, o);
	}
	return dump(a, JSON_C_TO_STRING_PLAIN);
}
