/* husk-init: the guest's PID 1 and husk's agent in the guest. main.c runs
 * the protocol loop; container.c builds the container and its processes;
 * seccomp.c turns the spec's filter into a libseccomp one. */
#ifndef HUSK_INIT_H
#define HUSK_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "oci/config.h"
#include "proto/agent_proto.h"

/* Where the container's root is assembled in the agent's mount namespace. */
#define INIT_ROOTFS "/run/husk/rootfs"
/* The container's cgroup (cgroup2 at /sys/fs/cgroup). */
#define INIT_CGROUP "/sys/fs/cgroup/container"

/* What a process child needs; the fds are the child's ends. */
struct child_args {
	const struct oci_config *cfg;   /* the container */
	const struct oci_process *proc; /* the process to run */
	bool main;          /* the container's process: build the container */
	pid_t join_pid;     /* exec: the process whose namespaces to join */
	int stdio[3];       /* pipe ends, or -1 with tty */
	int sync_fd;        /* child → agent: "R" ready, "E<code> <message>" */
	int start_fd;       /* agent → child: one byte on START (main only) */
};

/* Runs in the forked child: never returns. */
void child_run(const struct child_args *a) __attribute__((noreturn));

/* Mounts the container's rootfs at INIT_ROOTFS from the CREATE message. */
int rootfs_prepare(const struct agent_create *c, char *why, size_t whylen);

/* Creates INIT_CGROUP with the config's resources. */
int cgroup_prepare(const struct oci_config *cfg, char *why, size_t whylen);

/* Applies RES to INIT_CGROUP (create, and `husk update`). */
int cgroup_apply(const struct oci_resources *res, char *why, size_t whylen);

/* seccomp.c: loads the spec's filter into the calling process. */
int spec_seccomp_load(const struct oci_seccomp *s, char *why, size_t whylen);

/* network.c: loopback up, and the NETWORK message's interfaces set up. */
int network_configure(const struct agent_network *net, char *why, size_t whylen);

#endif
