/* exec's process.json: see exec_process.h. */
#include "oci/exec_process.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config.h"

typedef struct json_object jobj;

static jobj *strings(char *const *a, size_t n)
{
	jobj *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(a[i]));
	return arr;
}

/* ENV with each override's KEY replaced or appended. */
static jobj *merged_env(jobj *old, const struct oci_exec_overrides *o)
{
	jobj *env = json_object_new_array();
	size_t n = old && json_object_is_type(old, json_type_array) ? json_object_array_length(old)
								    : 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = json_object_get_string(json_object_array_get_idx(old, i));
		if (!e)
			continue;
		size_t klen = strcspn(e, "=");
		bool replaced = false;
		for (size_t j = 0; j < o->nenv && !replaced; j++)
			replaced = strncmp(o->env[j], e, klen) == 0 && o->env[j][klen] == '=';
		if (!replaced)
			json_object_array_add(env, json_object_new_string(e));
	}
	for (size_t j = 0; j < o->nenv; j++)
		json_object_array_add(env, json_object_new_string(o->env[j]));
	return env;
}

static void add_caps(jobj *process, const struct oci_exec_overrides *o)
{
	static const char *const sets[] = { "bounding", "effective", "permitted", "inheritable" };
	jobj *caps;
	if (!o->ncaps)
		return;
	if (!json_object_object_get_ex(process, "capabilities", &caps) ||
	    !json_object_is_type(caps, json_type_object)) {
		caps = json_object_new_object();
		json_object_object_add(process, "capabilities", caps);
	}
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		jobj *list;
		if (!json_object_object_get_ex(caps, sets[s], &list) ||
		    !json_object_is_type(list, json_type_array)) {
			list = json_object_new_array();
			json_object_object_add(caps, sets[s], list);
		}
		for (size_t i = 0; i < o->ncaps; i++)
			json_object_array_add(list, json_object_new_string(o->caps[i]));
	}
}

char *oci_exec_process_json(const char *config, size_t len, const struct oci_exec_overrides *o,
			    husk_error_t *err)
{
	/* Validates the whole config first, for its error messages. */
	struct oci_config *cfg = oci_config_parse(config, len, err);
	if (!cfg)
		return NULL;
	oci_config_free(cfg);
	jobj *root = json_tokener_parse(config), *old = NULL, *process = json_object_new_object();
	if (root)
		json_object_object_get_ex(root, "process", &old);
	/* runc keeps these from the container's process unless told otherwise. */
	static const char *const keep[] = { "env",
					    "cwd",
					    "user",
					    "capabilities",
					    "rlimits",
					    "noNewPrivileges",
					    "apparmorProfile",
					    "oomScoreAdj" };
	for (size_t i = 0; old && i < sizeof(keep) / sizeof(keep[0]); i++) {
		jobj *v;
		if (json_object_object_get_ex(old, keep[i], &v))
			json_object_object_add(process, keep[i], json_object_get(v));
	}
	size_t nargs = 0;
	while (o->args[nargs])
		nargs++;
	json_object_object_add(process, "args", strings(o->args, nargs));
	jobj *oldenv = NULL;
	if (old)
		json_object_object_get_ex(old, "env", &oldenv);
	json_object_object_add(process, "env", merged_env(oldenv, o));
	json_object_object_add(process, "terminal", json_object_new_boolean(o->terminal));
	if (o->cwd)
		json_object_object_add(process, "cwd", json_object_new_string(o->cwd));
	else if (!json_object_object_get_ex(process, "cwd", NULL))
		json_object_object_add(process, "cwd", json_object_new_string("/"));
	if (o->has_user) {
		jobj *user = json_object_new_object();
		json_object_object_add(user, "uid", json_object_new_int64(o->uid));
		json_object_object_add(user, "gid", json_object_new_int64(o->gid));
		if (o->nadditional_gids) {
			jobj *g = json_object_new_array();
			for (size_t i = 0; i < o->nadditional_gids; i++)
				json_object_array_add(g,
						      json_object_new_int64(o->additional_gids[i]));
			json_object_object_add(user, "additionalGids", g);
		}
		json_object_object_add(process, "user", user);
	} else if (!json_object_object_get_ex(process, "user", NULL)) {
		jobj *user = json_object_new_object();
		json_object_object_add(user, "uid", json_object_new_int(0));
		json_object_object_add(user, "gid", json_object_new_int(0));
		json_object_object_add(process, "user", user);
	}
	add_caps(process, o);
	if (o->no_new_privileges)
		json_object_object_add(process, "noNewPrivileges", json_object_new_boolean(true));
	const char *s = json_object_to_json_string_ext(process, JSON_C_TO_STRING_PLAIN);
	char *text = s ? strdup(s) : NULL;
	json_object_put(process);
	json_object_put(root);
	if (!text)
		husk_error_set(err, ENOMEM, "process.json");
	return text;
}
