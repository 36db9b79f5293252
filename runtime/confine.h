/* Host-side confinement of the VMM process, the container's pid on the
 * host. Applied in the VMM child, in this order, before the guest runs:
 *
 *   confine_namespaces()     the spec's network namespace; private mount,
 *                            IPC and UTS namespaces for the VMM
 *   confine_rlimits()        the spec's rlimits that make sense for a VMM
 *   confine_oom_score_adj()  process.oomScoreAdj
 *   confine_no_dump()        no core dump, no /proc/PID/mem for others
 *   ... VM set-up: /dev/kvm, guest memory, devices, network ...
 *   fd_budget_raise_nofile() (vmm/fd_budget.h) the VMM's own descriptor
 *                            limit, while CAP_SYS_RESOURCE is there
 *   confine_capabilities()   only what the virtio-fs server needs
 *   confine_seccomp()        a kill-by-default allow-list
 *   confine_thread()         each vCPU thread and virtio-fs worker, on
 *                            itself: what its class never does, refused
 *
 * The guest kernel is the container's real boundary: the workload's user,
 * capabilities, seccomp profile, rlimits and every namespace are applied by
 * husk-init inside the guest. What is here limits what a VMM that the guest
 * managed to take over could do to the host.
 *
 * Two namespaces are not joined or created on the host:
 *   - PID: the VMM must be the pid the client sees in the host's pid
 *     namespace (conmon and the shims wait for it and signal it). A new
 *     pid namespace only applies to children, so it would need another
 *     process between them; and there is nothing to isolate: the
 *     workload's processes live in the guest kernel, not on the host.
 *   - user: the VMM serves the container's files (virtio-fs) and creates
 *     device nodes and ownership on the host for the guest, which needs
 *     host credentials; uid and gid mappings are applied by the guest.
 *
 * Capabilities are per thread and cap_set_proc() changes the caller's
 * only, so confine_capabilities() must run before the VMM starts any
 * thread (confine_seccomp() synchronises its filter to every thread).
 * Errors name the config field ("linux.namespaces[2].path: ..."). */
#ifndef HUSK_RUNTIME_CONFINE_H
#define HUSK_RUNTIME_CONFINE_H

#include <stdint.h>

#include "base/error.h"
#include "oci/config.h"
#include "vmm/thread_class.h"

/* Network: setns() into linux.namespaces[type=network].path, or a new one
 * (unshare) when the entry has no path: the VMM's network devices then live
 * there, and a new one has loopback only. No network entry: the host's, as
 * runc does. Then, always: new mount (made a recursive slave, so mounts
 * made by the VMM never reach the host while the host's still arrive), IPC,
 * UTS and cgroup namespaces for the VMM itself (called once it is in its
 * cgroup, which becomes the root of its view). The spec's mount, IPC, UTS,
 * cgroup, time, pid and user namespaces are the guest's business. */
int confine_namespaces(const struct oci_config *c, husk_error_t *err);

/* process.rlimits on the VMM, as runc sets them on the container process,
 * except those that would bound the VMM's own machinery rather than the
 * workload; the guest applies every one of them to the workload anyway:
 *   RLIMIT_AS, RLIMIT_DATA   guest RAM is one private mapping of the VMM
 *   RLIMIT_NOFILE            virtio-fs holds a descriptor per guest inode
 *   RLIMIT_NPROC             vCPUs and workers are threads of the VMM, and
 *                            count against the (host) uid's processes
 *   RLIMIT_FSIZE, RLIMIT_CPU the host signal (SIGXFSZ, SIGXCPU) would kill
 *                            the whole VM instead of failing one guest
 *                            write or ending one guest process
 *   RLIMIT_CORE              the guest's processes dump into the guest; the
 *                            VMM never dumps (confine_no_dump()) */
int confine_rlimits(const struct oci_process *p, husk_error_t *err);

/* The VMM holds the guest's RAM: a crash must not write it to a core file
 * on the host (RLIMIT_CORE 0, soft and hard), and it is not dumpable, so
 * /proc/PID/mem, environ, fd and ptrace of it are root's with
 * CAP_SYS_PTRACE only, not every process of its uid's (another container's
 * VMM, a rootless user's other programs). /proc/PID's files then belong to
 * root: this goes after what writes the VMM's own (oom_score_adj); the
 * VMM's /proc/self/fd stays its own. */
int confine_no_dump(husk_error_t *err);

/* process.oomScoreAdj, when given, to /proc/self/oom_score_adj. */
int confine_oom_score_adj(const struct oci_process *p, husk_error_t *err);

/* Keeps CONFINE_CAPS (those of them the process has) in the effective and
 * permitted sets and the bounding set, clears the inheritable and ambient
 * sets, and sets no_new_privs. The bounding set needs CAP_SETPCAP to
 * shrink; without it (a VMM started without privileges) it is left alone,
 * no_new_privs being what stops an exec from gaining anything.
 *
 * What virtio-fs (vmm/virtio/fuse_*.c) does on the guest's behalf as
 * "root": the guest kernel checks permissions (default_permissions), so
 * the host must not check them again (DAC_OVERRIDE, DAC_READ_SEARCH, also
 * linkat AT_EMPTY_PATH; FOWNER for chmod, utimes and xattrs of files owned
 * by others); new files get the caller's owner (CHOWN) and keep the
 * set-ID bits the share allows, such as a set-group-ID directory's of a
 * group the VMM is not in (FSETID); MKNOD for device nodes and overlayfs
 * whiteouts; SETFCAP to remove the file capabilities of a file the guest
 * writes (FSETID keeps the kernel from doing it), and to set them on a
 * share that allows it (setcap in a container). It never changes
 * credentials, so neither SETUID nor SETGID. Nothing else: network set-up
 * (NET_ADMIN), raising limits (SYS_RESOURCE) and the like must happen
 * before. */
#define CONFINE_CAPS                                                            \
	((1ULL << 0 /* CAP_CHOWN */) | (1ULL << 1 /* CAP_DAC_OVERRIDE */) |     \
	 (1ULL << 2 /* CAP_DAC_READ_SEARCH */) | (1ULL << 3 /* CAP_FOWNER */) | \
	 (1ULL << 4 /* CAP_FSETID */) | (1ULL << 27 /* CAP_MKNOD */) |          \
	 (1ULL << 31 /* CAP_SETFCAP */))
int confine_capabilities(husk_error_t *err);

/* Loads a seccomp filter (libseccomp) on every thread of the process that
 * allows the system calls the VMM makes once set up and kills the process
 * (SCMP_ACT_KILL_PROCESS, SIGSYS) on any other; the list and the reason
 * for each restriction are in confine.c. Also sets no_new_privs. */
int confine_seccomp(husk_error_t *err);

/* Compiles each thread class's own filter (confine.c says what each
 * refuses), before confine_seccomp(); then confine_thread(), given to
 * vm_config.confine_thread, loads CLS's on the calling thread. */
int confine_thread_filters_prepare(husk_error_t *err);
int confine_thread(enum vmm_thread_class cls, husk_error_t *err);

#endif
