#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "oci/spec.h"

/* json-c builders that stay readable when nested; json_object_object_add
 * takes ownership of the value, so a tree is freed with one put. */
static json_object *str_array(const char *const *items, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(items[i]));
	return a;
}

#define STR_ARRAY(...)                                  \
	str_array((const char *const[]){ __VA_ARGS__ }, \
		  sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static void add(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static json_object *mount(const char *dest, const char *type, const char *source,
			  json_object *options)
{
	json_object *m = json_object_new_object();
	add(m, "destination", json_object_new_string(dest));
	add(m, "type", json_object_new_string(type));
	add(m, "source", json_object_new_string(source));
	if (options)
		add(m, "options", options);
	return m;
}

static json_object *id_mapping(unsigned host_id)
{
	json_object *m = json_object_new_object();
	add(m, "containerID", json_object_new_int(0));
	add(m, "hostID", json_object_new_int64(host_id));
	add(m, "size", json_object_new_int(1));
	json_object *a = json_object_new_array();
	json_object_array_add(a, m);
	return a;
}

static json_object *process_object(void)
{
	json_object *p = json_object_new_object(), *user, *caps, *rl, *rla;

	add(p, "terminal", json_object_new_boolean(1));
	user = json_object_new_object();
	add(user, "uid", json_object_new_int(0));
	add(user, "gid", json_object_new_int(0));
	add(p, "user", user);
	add(p, "args", STR_ARRAY("sh"));
	add(p, "env",
	    STR_ARRAY("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		      "TERM=xterm"));
	add(p, "cwd", json_object_new_string("/"));
	caps = json_object_new_object();
	static const char *const sets[] = { "bounding", "effective", "permitted", "ambient" };
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		add(caps, sets[i],
		    STR_ARRAY("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"));
	add(p, "capabilities", caps);
	rl = json_object_new_object();
	add(rl, "type", json_object_new_string("RLIMIT_NOFILE"));
	add(rl, "hard", json_object_new_int(1024));
	add(rl, "soft", json_object_new_int(1024));
	rla = json_object_new_array();
	json_object_array_add(rla, rl);
	add(p, "rlimits", rla);
	add(p, "noNewPrivileges", json_object_new_boolean(1));
	return p;
}

static json_object *mounts_array(bool rootless)
{
	json_object *m = json_object_new_array();

	json_object_array_add(m, mount("/proc", "proc", "proc", NULL));
	json_object_array_add(m,
			      mount("/dev", "tmpfs", "tmpfs",
				    STR_ARRAY("nosuid", "strictatime", "mode=755", "size=65536k")));
	/* gid=5 (tty) cannot be mapped in a rootless user namespace. */
	json_object_array_add(m,
			      mount("/dev/pts", "devpts", "devpts",
				    rootless ? STR_ARRAY("nosuid", "noexec", "newinstance",
							 "ptmxmode=0666", "mode=0620")
					     : STR_ARRAY("nosuid", "noexec", "newinstance",
							 "ptmxmode=0666", "mode=0620", "gid=5")));
	json_object_array_add(
		m, mount("/dev/shm", "tmpfs", "shm",
			 STR_ARRAY("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")));
	json_object_array_add(m, mount("/dev/mqueue", "mqueue", "mqueue",
				       STR_ARRAY("nosuid", "noexec", "nodev")));
	/* A rootless container cannot mount a new sysfs outside its own
	 * network namespace, so runc bind-mounts it instead. */
	json_object_array_add(
		m, rootless ? mount("/sys", "none", "/sys",
				    STR_ARRAY("rbind", "nosuid", "noexec", "nodev", "ro"))
			    : mount("/sys", "sysfs", "sysfs",
				    STR_ARRAY("nosuid", "noexec", "nodev", "ro")));
	json_object_array_add(m, mount("/sys/fs/cgroup", "cgroup", "cgroup",
				       STR_ARRAY("nosuid", "noexec", "nodev", "relatime", "ro")));
	return m;
}

static json_object *namespaces_array(bool rootless)
{
	json_object *a = json_object_new_array();
	const char *const full[] = { "pid", "network", "ipc", "uts", "mount" };
	const char *const rl[] = { "pid", "ipc", "uts", "mount", "user" };
	const char *const *types = rootless ? rl : full;

	for (size_t i = 0; i < 5; i++) {
		json_object *ns = json_object_new_object();
		add(ns, "type", json_object_new_string(types[i]));
		json_object_array_add(a, ns);
	}
	return a;
}

static json_object *linux_object(bool rootless, uid_t uid, gid_t gid)
{
	json_object *l = json_object_new_object();

	if (rootless) {
		add(l, "uidMappings", id_mapping(uid));
		add(l, "gidMappings", id_mapping(gid));
	} else {
		json_object *res = json_object_new_object(), *dev, *devs;
		dev = json_object_new_object();
		add(dev, "allow", json_object_new_boolean(0));
		add(dev, "access", json_object_new_string("rwm"));
		devs = json_object_new_array();
		json_object_array_add(devs, dev);
		add(res, "devices", devs);
		add(l, "resources", res);
	}
	add(l, "namespaces", namespaces_array(rootless));
	add(l, "maskedPaths",
	    STR_ARRAY("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		      "/proc/sched_debug", "/sys/firmware", "/proc/scsi"));
	add(l, "readonlyPaths",
	    STR_ARRAY("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"));
	return l;
}

char *oci_default_spec(bool rootless, uid_t uid, gid_t gid, husk_error_t *err)
{
	json_object *spec = json_object_new_object(), *root;
	char *text;

	add(spec, "ociVersion", json_object_new_string(OCI_SPEC_VERSION));
	add(spec, "process", process_object());
	root = json_object_new_object();
	add(root, "path", json_object_new_string("rootfs"));
	add(root, "readonly", json_object_new_boolean(1));
	add(spec, "root", root);
	add(spec, "hostname", json_object_new_string("husk"));
	add(spec, "mounts", mounts_array(rootless));
	add(spec, "linux", linux_object(rootless, uid, gid));

	text = strdup(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_PRETTY_TAB |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(spec);
	if (!text)
		husk_error_set(err, ENOMEM, "generate config.json");
	return text;
}
