/* The container process: the VMM that `create` forks and whose pid clients
 * see. It runs the VM (vmm/vm.h) on its main thread and, on a router
 * thread, speaks to husk-init over the agent connection and to husk
 * commands over the control socket:
 *
 *   - the container's stdio (inherited pipes or files, or the pty slave
 *     when `terminal: true`) is relayed to the guest's main process;
 *   - START from `husk start` releases the main process once the guest
 *     reported it built (READY), or answers the agent's ERROR;
 *   - EXEC from `husk exec` gets a fresh process id in the guest; that
 *     connection's frames are routed to and from it (ids rewritten);
 *   - PS, STATS and UPDATE are passed on and their replies returned in order;
 *   - host signals to this process go to the guest's main process
 *     (SIGWINCH becomes a RESIZE); before START a terminating signal ends
 *     the VM;
 *   - when the main process ends, the guest powers off and this process
 *     ends the same way: its exit code, or killed by the same signal. */
#ifndef HUSK_RUNTIME_VMM_PROCESS_H
#define HUSK_RUNTIME_VMM_PROCESS_H

#include <stddef.h>

#include "base/error.h"
#include "runtime/network.h"
#include "vmm/vm.h"

struct vmm_process {
	struct vm_config vm;	 /* caller_signals/stop_fd are set here */
	const char *config_json; /* config.json bytes for CREATE */
	size_t config_len;
	const char *rootfs_tag; /* virtio-fs tag of the rootfs share */
	/* root.readonly: the host refuses writes to the rootfs share from the
	 * moment the guest reported the container built (READY) or START
	 * came, whichever is first: husk-init makes mount points in it before,
	 * and nothing but husk-init runs in the guest until then. */
	bool seal_rootfs;
	int console_fd;			    /* pty slave with `terminal: true`, else -1 */
	int ctl_listen;			    /* the control socket, listening */
	int agent_listen;		    /* <vsock dir>/1024, listening */
	const struct agent_bind_tag *binds; /* bind mounts served as shares */
	unsigned nbinds;
	const struct net_setup *net; /* interfaces for the guest, or NULL */
	int boot_timeout_ms; /* booted, connected and READY within this; 0: CONTROL_BOOT_TIMEOUT_S */
};

/* Runs the VM to its end. Returns the status this process must end with:
 * >= 0 an exit code, < 0 death by signal -N, only for a signal this
 * process can die of (exit_status.h judges what the guest reported).
 * Errors that stop the VM before the process ran are logged and give exit
 * code 1 (or 255 when the VM could not be built, with *err). */
int vmm_process_run(struct vmm_process *p, husk_error_t *err);

/* The router alone, without a VM (tests): serves P's control and agent
 * sockets until QUIT_FD is readable; what would end the VM goes to
 * STOP_FD. */
void vmm_process_route(struct vmm_process *p, int quit_fd, int stop_fd);

/* Accepts one control connection pending on LISTEN_FD (non-blocking).
 * Out of descriptors, accept() fails and leaves the connection pending, so
 * the socket stays readable and a poll loop on it would spin while no
 * command is answered: then *SPARE, a descriptor held for this (-1: none,
 * taken again when possible), is closed to accept the connection, tell it
 * why and close it. Returns the connection, or -1 with *PAUSE_MS how long
 * to leave LISTEN_FD unwatched (0: it is safe to poll it at once). The
 * connection is non-blocking: the router waits on no peer. */
int vmm_ctl_accept(int listen_fd, int *spare, int *pause_ms);

/* Ends this process with STATUS as vmm_process_run() returned it. */
_Noreturn void vmm_process_exit(int status);

#endif
