/* The container lifecycle shared by the commands: create (fork the
 * container process), start, destroy (what delete and run --rm do), hooks,
 * and runc's signal names. */
#ifndef HUSK_RUNTIME_LIFECYCLE_H
#define HUSK_RUNTIME_LIFECYCLE_H

#include <stdbool.h>
#include <sys/types.h>

#include "runtime/commands.h"
#include "base/error.h"
#include "oci/config.h"
#include "runtime/container.h"

/* VM size when neither the spec's resources nor annotations say. */
#define HUSK_DEFAULT_CPUS 1
#define HUSK_DEFAULT_MEMORY_MIB 256
/* Host memory the VMM itself needs beside guest RAM (its own pages, the
 * virtio-fs buffers): a memory limit L gives the guest L minus this. */
#define HUSK_VMM_OVERHEAD_MIB 32
#define HUSK_MIN_GUEST_MIB 64
/* The most guest RAM husk gives (husk.memory_mib's ceiling); a memory
 * limit gives at most the host's RAM, and never more than this. */
#define HUSK_MAX_GUEST_MIB (1ul << 20)

struct create_opts {
	const char *id;
	const char *bundle;	    /* NULL: the current directory */
	const char *pid_file;	    /* may be NULL */
	const char *console_socket; /* may be NULL */
	/* `run` in the foreground with terminal: true and no console socket:
	 * our own terminal becomes the container's. */
	bool own_terminal;
};

/* Validates the bundle, writes the state, forks the container process and
 * returns once it is confined and its VM built. *PID gets its pid. */
int lifecycle_create(const struct husk_globals *g, const struct create_opts *o, pid_t *pid,
		     husk_error_t *err);

/* Starts a created container (the state is locked by the caller). */
int lifecycle_start(struct container *c, husk_error_t *err);

/* Thaws C's cgroup after a SIGKILL was sent to a paused C: on a v1
 * freezer the kill stays pending in the frozen VMM until then (v2 lets it
 * through), so without this the container stays paused and delete waits;
 * runc thaws the same way. */
int lifecycle_thaw_for_kill(const struct container *c, husk_error_t *err);

/* Kills what is left of C (the VMM, its cgroup), runs the poststop hooks
 * and removes its state. */
int lifecycle_destroy(struct container *c, husk_error_t *err);

/* The VM size for CFG: vCPUs the fewest of ceil(quota/period) and the
 * cpuset's CPUs (the default when neither is given), from 1 to the host's
 * (at most MAX_VCPUS), unless the annotation husk.cpus says; guest RAM
 * from memory.limit (less the VMM's overhead, at most the host's RAM and
 * HUSK_MAX_GUEST_MIB) and husk.memory_mib. */
int lifecycle_vm_size(const struct oci_config *cfg, int *cpus, unsigned long *memory_mib,
		      husk_error_t *err);

/* --preserve-fds: only 0 (host fds cannot cross into the VM). */
int lifecycle_check_preserve_fds(const char *v, husk_error_t *err);

/* runc's signal syntax: "9", "KILL", "SIGKILL", any case. */
int lifecycle_parse_signal(const char *s, int *sig, husk_error_t *err);

/* Runs CFG's hooks of KIND with the state on stdin, as the runtime-spec
 * says; the first failure stops them. */
int lifecycle_run_hooks(const struct oci_config *cfg, enum oci_hook_kind kind,
			const struct container *c, const char *status, pid_t pid,
			husk_error_t *err);

/* create keeps config.json as it read it in the state directory, under
 * this name; the bundle may be written by the container after create, so
 * start, exec and delete use this copy (hooks and namespace paths in it run
 * and open as root on the host). */
#define HUSK_SAVED_CONFIG "config.json"

/* The saved copy's text, and parsed. */
char *lifecycle_saved_config(const struct container *c, size_t *len, husk_error_t *err);
struct oci_config *lifecycle_load_config(const struct container *c, husk_error_t *err);

/* linux.namespaces' network entry's path, or NULL (none, or a new one). */
struct oci_config;
const char *lifecycle_netns_path(const struct oci_config *cfg);

#endif
