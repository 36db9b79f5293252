#include <errno.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

#include "base/version.h"
#include "oci/spec.h"
#include "oci/tables.h"

static json_object *table_array(const struct oci_name_table *t)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < t->count; i++)
		json_object_array_add(a, json_object_new_string(t->names[i]));
	return a;
}

static json_object *enabled(bool on)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "enabled", json_object_new_boolean(on));
	return o;
}

static json_object *linux_features(void)
{
	json_object *l = json_object_new_object(), *cg, *sc;

	json_object_object_add(l, "namespaces", table_array(&oci_namespaces));
	json_object_object_add(l, "capabilities", table_array(&oci_capabilities));

	/* The VMM's host cgroup (runtime/cgroup.c) works on v1, v2 and
	 * hybrid hosts. systemd's "slice:prefix:name" paths are accepted and
	 * mapped to cgroupfs, but no scope is made through systemd, so the
	 * systemd driver is not claimed. */
	cg = json_object_new_object();
	json_object_object_add(cg, "v1", json_object_new_boolean(1));
	json_object_object_add(cg, "v2", json_object_new_boolean(1));
	json_object_object_add(cg, "systemd", json_object_new_boolean(0));
	json_object_object_add(cg, "systemdUser", json_object_new_boolean(0));
	json_object_object_add(cg, "rdma", json_object_new_boolean(0));
	json_object_object_add(l, "cgroup", cg);

	sc = json_object_new_object();
	json_object_object_add(sc, "enabled", json_object_new_boolean(1));
	json_object_object_add(sc, "actions", table_array(&oci_seccomp_actions));
	json_object_object_add(sc, "operators", table_array(&oci_seccomp_operators));
	json_object_object_add(sc, "archs", table_array(&oci_seccomp_archs));
	json_object_object_add(sc, "knownFlags", table_array(&oci_seccomp_flags));
	json_object_object_add(sc, "supportedFlags", table_array(&oci_seccomp_flags));
	json_object_object_add(l, "seccomp", sc);

	/* The guest kernel has no LSM and no resctrl; the container is
	 * confined by the VM boundary instead. */
	json_object_object_add(l, "apparmor", enabled(false));
	json_object_object_add(l, "selinux", enabled(false));
	json_object_object_add(l, "intelRdt", enabled(false));
	return l;
}

char *oci_features(husk_error_t *err)
{
	json_object *f = json_object_new_object(), *ann;
	const struct scmp_version *sv = seccomp_version();
	char seccomp_ver[32] = "unknown";
	char *text;

	json_object_object_add(f, "ociVersionMin", json_object_new_string(OCI_SPEC_VERSION_MIN));
	json_object_object_add(f, "ociVersionMax", json_object_new_string(OCI_SPEC_VERSION));
	json_object_object_add(f, "hooks", table_array(&oci_hooks));
	json_object_object_add(f, "mountOptions", table_array(&oci_mount_options));
	json_object_object_add(f, "linux", linux_features());

	if (sv)
		snprintf(seccomp_ver, sizeof(seccomp_ver), "%u.%u.%u", sv->major, sv->minor,
			 sv->micro);
	ann = json_object_new_object();
	json_object_object_add(ann, "io.github.seccomp.libseccomp.version",
			       json_object_new_string(seccomp_ver));
	json_object_object_add(ann, "husk.version", json_object_new_string(HUSK_VERSION));
	json_object_object_add(ann, "husk.commit", json_object_new_string(HUSK_COMMIT));
	json_object_object_add(ann, "husk.isolation", json_object_new_string("kvm-microvm"));
	json_object_object_add(f, "annotations", ann);

	text = strdup(json_object_to_json_string_ext(f, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(f);
	if (!text)
		husk_error_set(err, ENOMEM, "generate features");
	return text;
}
