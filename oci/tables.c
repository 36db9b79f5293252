#include "oci/tables.h"

#include <string.h>

#define TABLE(var, ...)                                           \
	static const char *const var##_names[] = { __VA_ARGS__ }; \
	const struct oci_name_table var = { var##_names,          \
					    sizeof(var##_names) / sizeof(var##_names[0]) }

/* Capability numbers are their index here (linux/capability.h order), which
 * the guest agent relies on when it builds capability sets. */
TABLE(oci_capabilities, "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
      "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
      "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
      "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
      "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE");

/* Namespaces are created inside the guest (its 6.1 kernel has them all);
 * "time" is newer than runc 1.1 but part of runtime-spec 1.1. */
TABLE(oci_namespaces, "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts");

/* mount(2) and mount_setattr(2) flags and propagation types, as runc names
 * them; the guest kernel (6.1) supports the recursive "r" forms. And runc's
 * "tmpcopyup" extension (a tmpfs starts with the directory's contents). */
TABLE(oci_mount_options, "acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync",
      "exec", "iversion", "lazytime", "loud", "mand", "noacl", "noatime", "nodev", "nodiratime",
      "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid",
      "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount",
      "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime",
      "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave",
      "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave",
      "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable");

/* Every hook kind runs on the host (runtime/lifecycle.c); those the spec
 * places in the container run on the host too: the guest cannot see the
 * host's binaries. */
TABLE(oci_hooks, "prestart", "createRuntime", "createContainer", "startContainer", "poststart",
      "poststop");

/* SCMP_ACT_NOTIFY is left out: it needs a listener on the host side of the
 * VM boundary, which husk does not offer. */
TABLE(oci_seccomp_actions, "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
      "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE",
      "SCMP_ACT_TRAP");

TABLE(oci_seccomp_operators, "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
      "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE");

/* The guest is x86-64, and a filter there can name the three x86 ABIs
 * (podman's and Docker's default profiles list all three). Other
 * architectures' syscall numbers mean nothing in this guest. */
TABLE(oci_seccomp_archs, "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32");

int oci_name_lookup(const struct oci_name_table *t, const char *name)
{
	for (size_t i = 0; i < t->count; i++)
		if (strcmp(t->names[i], name) == 0)
			return (int)i;
	return -1;
}

/* Filter flags libseccomp 2.5 can set (as filter attributes) in the guest. */
TABLE(oci_seccomp_flags, "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
      "SECCOMP_FILTER_FLAG_LOG");
