/* The container's cgroup on the host: the VMM process (the container's pid)
 * and every thread it starts live in it, so the host's limits and
 * accounting apply to the whole micro-VM: guest RAM is VMM memory, vCPUs are
 * VMM threads.
 *
 * Built on libcgroup (2.0.2, Debian 12) for creating, attaching, setting,
 * reading and deleting; the few things that version cannot do are done on
 * the files directly and say why where they are. One cgroup PATH ("/husk/id")
 * names a directory in each hierarchy:
 *
 *   v1      memory, cpu, cpuacct, pids, freezer, devices, each where it is
 *           mounted (co-mounted ones share a directory);
 *   v2      one directory with memory, cpu and pids enabled from the
 *           parents' cgroup.subtree_control; freezing through cgroup.freeze;
 *           the device allow-list as a BPF_PROG_TYPE_CGROUP_DEVICE program;
 *   hybrid  the v1 controllers (this is how runc treats it), plus the v2
 *           directory for any of those controllers that lives there.
 *
 * A controller the host lacks is only an error when the resources ask for
 * what it controls; the message names the field ("linux.resources.memory.
 * limit: ..."). */
#ifndef HUSK_RUNTIME_CGROUP_H
#define HUSK_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/config.h"

struct cgroup_handle; /* opaque */

/* linux.cgroupsPath to a cgroup path, as runc reads it:
 *   - empty: "/husk/ID" (systemd: "system.slice:husk:ID");
 *   - absolute: as is, cleaned of "//" and "/./";
 *   - relative: beneath the parent of the cgroup husk itself runs in (on v1
 *     and hybrid, the memory controller's; on v2 the unified one), as runc's
 *     v2 driver does: the own cgroup usually holds processes, so it could
 *     not give controllers to a child;
 *   - SYSTEMD: "slice:prefix:name" is "<slice path>/<prefix>-<name>.scope"
 *     ("machine.slice:libpod:abc" is "/machine.slice/libpod-abc.scope";
 *     "a-b.slice" is "/a.slice/a-b.slice"; an empty slice is system.slice;
 *     a name ending in ".slice" is that slice itself). husk writes the
 *     cgroup files as systemd would lay them out; it does not ask systemd.
 * ".." is refused; errors name "linux.cgroupsPath". */
int cgroup_resolve(const char *cgroups_path, const char *id, bool systemd, char *out, size_t outlen,
		   husk_error_t *err);

/* cgroup_create's flags. */
enum {
	/* /dev/net/tun in the device allow-list: only a VMM that wires
	 * taps into a network namespace it was given needs it. */
	CGROUP_ALLOW_TUN = 1 << 0,
};

/* Creates PATH in every hierarchy husk uses, applies RES (NULL: none) and
 * installs the device allow-list (cgroup_devices_confined()); FLAGS
 * are CGROUP_*. A cgroup that already exists is shared, as runc 1.1
 * does (cgroup_created() then says false; the caller warns if it holds
 * processes), unless it is frozen or freezing: then the error names
 * linux.cgroupsPath, since the VMM would stop as it joined. On failure
 * nothing that this call created is left behind. */
int cgroup_create(const char *path, const struct oci_resources *res, unsigned flags,
		  struct cgroup_handle **out, husk_error_t *err);

/* A handle on an existing cgroup (from saved state). The cgroup need not
 * exist any more: destroy then succeeds, the others fail with ENOENT. */
struct cgroup_handle *cgroup_open(const char *path, husk_error_t *err);

/* Moves process PID, every thread of it, into the cgroup. */
int cgroup_attach(struct cgroup_handle *cg, pid_t pid, husk_error_t *err);

/* Applies RES (`husk update`): only what RES sets changes. */
int cgroup_update(struct cgroup_handle *cg, const struct oci_resources *res, husk_error_t *err);

/* Freezes or thaws every process in the cgroup and returns once the kernel
 * says it is done (or fails after a few seconds). */
int cgroup_freeze(struct cgroup_handle *cg, bool frozen, husk_error_t *err);
int cgroup_is_frozen(struct cgroup_handle *cg, bool *frozen, husk_error_t *err);

/* The processes in the cgroup (cgroup.procs), in a malloc'd array. */
int cgroup_pids(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err);

/* The host side of runc's `events --stats`. A value the host does not
 * report stays 0; an unlimited limit is UINT64_MAX, except pids_limit, 0
 * there as in runc. swap_* count memory and swap together, as cgroup v1's
 * memsw files and runc's report do. */
struct cgroup_stats {
	uint64_t memory_usage, memory_limit, memory_max_usage, memory_failcnt;
	uint64_t swap_usage, swap_limit;
	uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
	uint64_t cpu_periods, cpu_throttled_periods, cpu_throttled_ns;
	uint64_t pids_current, pids_limit;
};
int cgroup_stats(struct cgroup_handle *cg, struct cgroup_stats *st, husk_error_t *err);

/* Whether cgroup_create() made the cgroup: it existed in none of the
 * hierarchies before. Only such a cgroup is husk's to destroy; one that
 * was there (even in one hierarchy) holds what others put there. False
 * for an opened cgroup. */
bool cgroup_created(const struct cgroup_handle *cg);

/* Kills what is left (SIGKILL to every process, with the cgroup frozen
 * meanwhile so nothing forks away, then thawed so the kills land), waits
 * until it is empty, and removes its directory in every hierarchy. A cgroup
 * that does not exist (any more) is success. Callers destroy only a cgroup
 * husk created (cgroup_created(), saved with the container). */
/* KVM attaches a worker thread of every VM (NX huge page recovery) to the
 * cgroups of the process that made the VM. A kernel thread is never frozen,
 * so `pause` could never complete: create moves it to the root cgroup once
 * the VM exists. Its work is negligible; it is not the container's. */
int cgroup_release_kthreads(struct cgroup_handle *cg, husk_error_t *err);

int cgroup_destroy(struct cgroup_handle *cg, husk_error_t *err);

void cgroup_handle_free(struct cgroup_handle *cg);
#define cleanup_cgroup __attribute__((cleanup(cgroup_handle_freep)))
static inline void cgroup_handle_freep(struct cgroup_handle **cg)
{
	cgroup_handle_free(*cg);
}

const char *cgroup_path(const struct cgroup_handle *cg);

/* Whether the device allow-list (/dev/kvm, /dev/net/tun, the null-type
 * devices, ttys and ptys; everything else denied) is in force. On v1 it
 * always is after create (a failure is an error). On v2 it needs a BPF
 * program; where the kernel refuses one (EPERM without CAP_BPF/SYS_ADMIN,
 * no CONFIG_CGROUP_BPF) create still succeeds and this says false, for the
 * caller to report as it sees fit. False for an opened cgroup: husk does not
 * read back what is attached. */
bool cgroup_devices_confined(const struct cgroup_handle *cg);

#endif
