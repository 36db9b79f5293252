/* A C model of the parts of an OCI config.json (and of the process.json of
 * `exec`) that husk acts on, and their parser. Every field's JSON type is
 * checked; an error names the JSON path ("process.args[2]: must be a
 * string"). Fields husk does not act on are ignored, as runc ignores them.
 * json-c stays inside oci/. */
#ifndef HUSK_OCI_CONFIG_H
#define HUSK_OCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

enum oci_cap_set {
	OCI_CAP_BOUNDING,
	OCI_CAP_EFFECTIVE,
	OCI_CAP_INHERITABLE,
	OCI_CAP_PERMITTED,
	OCI_CAP_AMBIENT,
	OCI_CAP_NSETS,
};

struct oci_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

struct oci_process {
	bool terminal;
	unsigned console_height, console_width; /* 0: not given */
	char **args;				/* NULL-terminated */
	size_t nargs;
	char **env; /* NULL-terminated */
	size_t nenv;
	char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *additional_gids;
	size_t nadditional_gids;
	bool has_umask;
	mode_t umask;
	bool has_caps;
	uint64_t caps[OCI_CAP_NSETS]; /* bit N: capability number N */
	struct oci_rlimit *rlimits;
	size_t nrlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
};

struct oci_mount {
	char *destination, *source, *type; /* source and type may be NULL */
	unsigned long flags;		   /* MS_* set */
	unsigned long clear_flags;	   /* MS_* an option turned off ("rw", "dev") */
	unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE | MS_REC, or 0 */
	bool bind, recursive;
	char *data;	/* options the kernel takes as a string, comma-joined; may be NULL */
	bool tmpcopyup; /* tmpfs: copy what the destination held into it */
	/* The recursive "r" options, for mount_setattr(AT_RECURSIVE): MOUNT_ATTR_*. */
	uint64_t rec_attr_set, rec_attr_clr;
};

struct oci_namespace {
	int type;   /* CLONE_NEW* */
	char *path; /* NULL: a new one */
};

struct oci_seccomp_arg {
	unsigned index;
	uint64_t value, value_two;
	int op; /* index in oci_seccomp_operators */
};

struct oci_seccomp_syscall {
	char **names;
	size_t nnames;
	int action; /* index in oci_seccomp_actions */
	bool has_errno;
	unsigned errno_ret;
	struct oci_seccomp_arg *args;
	size_t nargs;
};

struct oci_seccomp {
	int default_action;
	bool has_default_errno;
	unsigned default_errno;
	int *archs; /* indexes in oci_seccomp_archs */
	size_t narchs;
	unsigned flags; /* bit N: oci_seccomp_flags[N] */
	struct oci_seccomp_syscall *syscalls;
	size_t nsyscalls;
};

/* A cpuset list ("0-3,8") as the kernel takes it; longer ones are refused. */
#define OCI_CPUSET_LIST_MAX 512
/* The highest CPU or memory node number a cpuset list may name. */
#define OCI_CPUSET_MAX_ID 8191

struct oci_resources {
	bool has_memory_limit, has_memory_swap, has_cpu_quota, has_cpu_period, has_cpu_shares,
		has_pids_limit, has_cpuset_cpus, has_cpuset_mems;
	int64_t memory_limit, memory_swap, cpu_quota, pids_limit;
	uint64_t cpu_period, cpu_shares;
	/* linux.resources.cpu.cpus and .mems, validated; cpuset_ncpus is how
	 * many CPUs cpus names. An empty string counts as not given, as in
	 * runc. */
	char cpuset_cpus[OCI_CPUSET_LIST_MAX], cpuset_mems[OCI_CPUSET_LIST_MAX];
	unsigned cpuset_ncpus;
};

/* Checks LIST in the kernel's cpuset list syntax (ids and ranges "a-b",
 * comma-separated, no blanks); *COUNT gets how many ids it names. PATH
 * names the field in the error. */
int oci_cpuset_list_parse(const char *list, const char *path, unsigned *count, husk_error_t *err);

/* linux.devices[]: a node husk-init makes in the container. */
struct oci_device {
	char *path;  /* absolute, in the container */
	mode_t type; /* S_IFCHR, S_IFBLK or S_IFIFO */
	uint32_t major, minor;
	mode_t mode; /* permission bits; 0666 when the spec gives none */
	uid_t uid;
	gid_t gid;
};

struct oci_kv {
	char *key, *value;
};

enum oci_hook_kind {
	OCI_HOOK_PRESTART,
	OCI_HOOK_CREATE_RUNTIME,
	OCI_HOOK_CREATE_CONTAINER,
	OCI_HOOK_START_CONTAINER,
	OCI_HOOK_POSTSTART,
	OCI_HOOK_POSTSTOP,
	OCI_HOOK_NKINDS,
};

/* The config.json names of the hook kinds, indexed by enum oci_hook_kind. */
extern const char *const oci_hook_names[OCI_HOOK_NKINDS];

struct oci_hook {
	char *path;
	char **args; /* NULL-terminated, may be NULL */
	char **env;  /* NULL-terminated, may be NULL */
	int timeout; /* seconds; 0: none */
};

struct oci_config {
	bool has_process;
	struct oci_process process;
	char *root_path;
	bool root_readonly;
	char *hostname, *domainname;
	struct oci_mount *mounts;
	size_t nmounts;
	struct oci_namespace *namespaces;
	size_t nnamespaces;
	struct oci_kv *sysctl;
	size_t nsysctl;
	char **masked_paths;
	size_t nmasked_paths;
	char **readonly_paths;
	size_t nreadonly_paths;
	struct oci_seccomp *seccomp; /* NULL: none */
	char *cgroups_path;	     /* linux.cgroupsPath as written; NULL: none */
	struct oci_resources resources;
	struct oci_kv *annotations;
	size_t nannotations;
	struct oci_hook *hooks[OCI_HOOK_NKINDS];
	size_t nhooks[OCI_HOOK_NKINDS];
	struct oci_device *devices;
	size_t ndevices;
};

/* The size a config.json (or process.json) must stay below. */
#define OCI_CONFIG_MAX (16u << 20)
/* How deep arrays and objects may nest (json-c's default, made explicit):
 * an OCI config needs under ten levels, and json-c frees a tree by
 * recursion. */
#define OCI_JSON_MAX_DEPTH 32
/* How many objects and arrays, and values of any kind, a document may hold:
 * json-c's tree costs up to ~800 bytes a value. Docker's seccomp profile,
 * the largest part of a usual config, has a few hundred of each. */
#define OCI_JSON_MAX_CONTAINERS 65536
#define OCI_JSON_MAX_VALUES (1 << 20)

/* Parse LEN bytes of config.json. NULL with *err naming the JSON path. */
struct oci_config *oci_config_parse(const char *json, size_t len, husk_error_t *err);
/* Parse a process.json (the `process` object alone, as `runc exec -p`). */
struct oci_process *oci_process_parse(const char *json, size_t len, husk_error_t *err);
/* Parse a linux.resources object alone (`update --resources`). */
int oci_resources_parse(const char *json, size_t len, struct oci_resources *out, husk_error_t *err);
/* The resources husk acts on as a linux.resources JSON object, malloc'd. */
char *oci_resources_to_json(const struct oci_resources *r);
/* PATH's text (a config.json), NUL-terminated, malloc'd: refused without
 * reading when it is not a regular file smaller than OCI_CONFIG_MAX. */
char *oci_config_read(const char *path, size_t *len, husk_error_t *err);
/* Read and parse PATH (a config.json). */
struct oci_config *oci_config_load(const char *path, husk_error_t *err);

void oci_config_free(struct oci_config *c);
void oci_process_free(struct oci_process *p);

/* The value of annotation KEY, or NULL. */
const char *oci_config_annotation(const struct oci_config *c, const char *key);

/* Whether the config asks for a namespace of TYPE (CLONE_NEW*). */
const struct oci_namespace *oci_config_namespace(const struct oci_config *c, int type);

#endif
