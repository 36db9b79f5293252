/* What the files of the cgroup module share, and nothing outside them may
 * include: the handle, the controllers, the helpers that read and write
 * cgroup files, and struct cgroup_driver, the seam between the public API
 * (cgroup.c) and the code that makes and tears down a cgroup. Today one
 * driver, cgroupfs (cgroup_cgroupfs.c), does the work through libcgroup and
 * the files; a systemd driver, which would ask systemd for the scope, is a
 * second table of the same operations (crun's cgroup-internal.h manager).
 * Path resolution and mount discovery (cgroup_path.c), resources and stats
 * (cgroup_resources.c) and the device allow-list (cgroup_devices.c) work on
 * a handle whatever the driver. */
#ifndef HUSK_RUNTIME_CGROUP_INTERNAL_H
#define HUSK_RUNTIME_CGROUP_INTERNAL_H

#include <libcgroup.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/config.h"
#include "runtime/cgroup.h"

#define CG_ROOT "/sys/fs/cgroup"
#define CG_FIELD "linux.cgroupsPath"

/* The controllers husk uses; cgroup_ctrl_names holds libcgroup's names. */
enum ctrl { C_MEMORY, C_CPU, C_CPUACCT, C_CPUSET, C_PIDS, C_FREEZER, C_DEVICES, C_N };
extern const char *const cgroup_ctrl_names[C_N];

struct ctrl_state {
	bool present; /* usable for this cgroup */
	bool v2;      /* on the cgroup2 mount */
	char *mount;  /* where its hierarchy is mounted */
	char *dir;    /* mount + path */
};

struct cgroup_handle {
	char *path;	  /* "/husk/id" */
	const char *name; /* path without its '/': libcgroup's name for it */
	struct ctrl_state c[C_N];
	char *v2_dir; /* the unified directory, when one is in use */
	bool devices_confined;
	bool created;	/* create made it: it existed in no hierarchy before */
	unsigned flags; /* CGROUP_*, from create */
	const struct cgroup_driver *drv;
};

/* What a driver does for the public API of cgroup.h; each operation is
 * documented there under its public name. The handle comes with its
 * mounts found (cgroup_handle_new()) and, for create, its flags set; RES
 * is never NULL. Free stays in cgroup.c: a driver keeps no state of its
 * own in the handle. */
struct cgroup_driver {
	const char *name;
	int (*create)(struct cgroup_handle *cg, const struct oci_resources *res, husk_error_t *err);
	/* Fits an opened handle to the cgroup as it is. */
	void (*open)(struct cgroup_handle *cg);
	int (*attach)(struct cgroup_handle *cg, pid_t pid, husk_error_t *err);
	int (*update)(struct cgroup_handle *cg, const struct oci_resources *res, husk_error_t *err);
	int (*freeze)(struct cgroup_handle *cg, bool frozen, husk_error_t *err);
	int (*is_frozen)(struct cgroup_handle *cg, bool *frozen, husk_error_t *err);
	int (*pids)(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err);
	int (*stats)(struct cgroup_handle *cg, struct cgroup_stats *st, husk_error_t *err);
	int (*release_kthreads)(struct cgroup_handle *cg, husk_error_t *err);
	int (*destroy)(struct cgroup_handle *cg, husk_error_t *err);
};

extern const struct cgroup_driver cgroup_driver_cgroupfs;

/* ---- cgroup.c: libcgroup plumbing and file helpers ---- */

/* A libcgroup return code as an error: ECGOTHER carries the errno. */
int cgroup_lib_fail(husk_error_t *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cgroup_lib_init(husk_error_t *err);

static inline void cgroup_lib_freep(struct cgroup **cg)
{
	if (*cg)
		cgroup_free(cg);
}
#define cleanup_libcg __attribute__((cleanup(cgroup_lib_freep)))

bool cgroup_file_exists(const char *dir, const char *file);
ssize_t cgroup_file_read(const char *dir, const char *file, char *buf, size_t size);
int cgroup_file_write(const char *dir, const char *file, const char *value);
bool cgroup_has_word(const char *list, const char *word);
uint64_t cgroup_now_ms(void);
void cgroup_sleep_ms(unsigned ms);

int cgroup_value_set(struct cgroup_handle *cg, enum ctrl c, const char *file, const char *value,
		     const char *field, husk_error_t *err);
int cgroup_value_read(struct cgroup_handle *cg, enum ctrl c, const char *file, char *buf,
		      size_t size, husk_error_t *err);

/* ---- cgroup_path.c: the handle and where its hierarchies are ---- */

struct cgroup_handle *cgroup_handle_new(const char *path, husk_error_t *err);
void cgroup_narrow_v2(struct cgroup_handle *cg, const char *dir, const char *file);
int cgroup_distinct_dirs(const struct cgroup_handle *cg, int idx[C_N]);
bool cgroup_exists_anywhere(const struct cgroup_handle *cg);

/* ---- cgroup_resources.c ---- */

int cgroup_resources_check(struct cgroup_handle *cg, const struct oci_resources *r,
			   husk_error_t *err);
int cgroup_resources_apply(struct cgroup_handle *cg, const struct oci_resources *r,
			   husk_error_t *err);
int cgroup_stats_read(struct cgroup_handle *cg, struct cgroup_stats *st, husk_error_t *err);

/* ---- cgroup_devices.c ---- */

int cgroup_devices_apply(struct cgroup_handle *cg, husk_error_t *err);

#endif
