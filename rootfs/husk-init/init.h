/* husk-init: the guest's PID 1 and husk's agent in the guest. main.c runs
 * the protocol loop and serves the host's frames; processes.c keeps the
 * table of processes, relays their output and reaps them; container.c
 * builds the container and its processes; seccomp.c turns the spec's
 * filter into a libseccomp one; network.c sets up the interfaces. */
#ifndef HUSK_INIT_H
#define HUSK_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oci/config.h"
#include "proto/agent_proto.h"

/* Where the container's root is assembled in the agent's mount namespace. */
#define INIT_ROOTFS "/run/husk/rootfs"
/* The container's cgroup (cgroup2 at /sys/fs/cgroup). */
#define INIT_CGROUP "/sys/fs/cgroup/container"

/* What an epoll event is about; its data is (slot << 8) | kind, the slot
 * being the process's in processes.c's table. */
enum fd_kind { K_VSOCK = 1, K_SIGNAL, K_OUT, K_ERR, K_SYNC };

/* main.c: the connection to the host and the epoll loop. A send that
 * fails closes the connection, and later sends are dropped. */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void send_frame(uint16_t type, uint32_t id, const void *p, size_t n);
void send_error(uint32_t id, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void send_exit(uint32_t id, uint32_t code, uint32_t sig);
void watch(int fd, enum fd_kind kind, unsigned slot);
/* Stops watching *FD, closes it and sets it to -1; nothing if it is -1. */
void unwatch_close(int *fd);
/* Kills every process, reports the container's EXIT, unmounts and powers
 * the VM off with CODE and SIG. */
void shutdown_vm(uint32_t code, uint32_t sig) __attribute__((noreturn));

/* processes.c: the container's processes, by the id the host gave them. */
#define MAX_PROCS 160

struct proc {
	bool used;
	bool main;
	uint32_t id;
	pid_t pid;    /* 0 until known (exec: from the helper's "P" message) */
	pid_t helper; /* exec: the namespace-joining intermediate */
	int in_fd, out_fd, err_fd, sync_fd, start_fd;
	bool tty;
	struct oci_process *owned; /* exec: its parsed process.json */
};

/* The container's process while it lives (CREATE to its exit). */
extern struct proc *main_proc;

struct proc *proc_find(uint32_t id);
/* A free slot for ID, its fds -1; NULL when the table is full. */
struct proc *proc_new(uint32_t id);
void proc_free(struct proc *p);
/* Starts P's child running OP in CFG; false with the reason sent as ERROR. */
bool proc_spawn(struct proc *p, const struct oci_config *cfg, const struct oci_process *op);
/* K_OUT, K_ERR or K_SYNC on the process in SLOT. */
void proc_event(enum fd_kind kind, unsigned slot);
/* Reaps exited children (waiting for one with BLOCK) and reports them; the
 * container's process's exit shuts the VM down. */
void proc_reap(bool block);
/* Kills, reaps and reports every process (shutdown_vm's first step). */
void proc_kill_all(void);

/* What a process child needs; the fds are the child's ends. */
struct child_args {
	const struct oci_config *cfg;	/* the container */
	const struct oci_process *proc; /* the process to run */
	bool main;			/* the container's process: build the container */
	pid_t join_pid;			/* exec: the process whose namespaces to join */
	int stdio[3];			/* pipe ends, or -1 with tty */
	int sync_fd;			/* child → agent: "R" ready, "E<code> <message>" */
	int start_fd;			/* agent → child: one byte on START (main only) */
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
