#include "runtime/host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "base/cleanup.h"

static bool dir_exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

enum kvm_backend host_kvm_backend(const char *module_dir)
{
	/* kvm_pvm can be loaded beside a vendor module; /dev/kvm then belongs
	 * to the vendor module, which registered first, so hardware wins. */
	if (dir_exists(module_dir, "kvm_intel"))
		return KVM_BACKEND_INTEL;
	if (dir_exists(module_dir, "kvm_amd"))
		return KVM_BACKEND_AMD;
	if (dir_exists(module_dir, "kvm_pvm"))
		return KVM_BACKEND_PVM;
	return KVM_BACKEND_NONE;
}

const char *host_kvm_backend_name(enum kvm_backend b)
{
	switch (b) {
	case KVM_BACKEND_INTEL: return "kvm_intel";
	case KVM_BACKEND_AMD: return "kvm_amd";
	case KVM_BACKEND_PVM: return "kvm_pvm";
	case KVM_BACKEND_NONE: break;
	}
	return "none";
}

int host_kvm_open(const char *dev, enum kvm_backend b, char *why, size_t size, const char **fix)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	int e = errno;
	snprintf(why, size, "%s: %s (KVM module: %s)", dev, strerror(e),
		 b == KVM_BACKEND_NONE ? "none loaded" : host_kvm_backend_name(b));
	*fix = e != ENOENT ? "run as root or add the user to the group owning /dev/kvm"
	       : b == KVM_BACKEND_NONE
		       ? "load kvm_intel or kvm_amd; on a cloud VM, enable nested virtualization"
		       : "the module is loaded but the device is not here: in a container, pass /dev/kvm in";
	errno = e;
	return -1;
}

static long fs_type(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 ? (long)sf.f_type : -1;
}

enum cgroup_mode host_cgroup_mode(const char *root)
{
	char unified[4096];

	if (fs_type(root) == CGROUP2_SUPER_MAGIC)
		return CGROUP_MODE_V2;
	snprintf(unified, sizeof(unified), "%s/unified", root);
	if (fs_type(unified) == CGROUP2_SUPER_MAGIC)
		return CGROUP_MODE_HYBRID;
	if (fs_type(root) == TMPFS_MAGIC)
		return CGROUP_MODE_V1;
	return CGROUP_MODE_NONE;
}

const char *host_cgroup_mode_name(enum cgroup_mode m)
{
	switch (m) {
	case CGROUP_MODE_V1: return "v1";
	case CGROUP_MODE_V2: return "v2";
	case CGROUP_MODE_HYBRID: return "hybrid";
	case CGROUP_MODE_NONE: break;
	}
	return "none";
}

bool host_cgroup_controller(const char *root, enum cgroup_mode m, const char *name)
{
	char path[4096], word[64];

	if (m == CGROUP_MODE_V1 || m == CGROUP_MODE_HYBRID) {
		snprintf(path, sizeof(path), "%s/%s", root, name);
		return fs_type(path) == CGROUP_SUPER_MAGIC;
	}
	if (m != CGROUP_MODE_V2)
		return false;
	snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	cleanup_file FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (fscanf(f, "%63s", word) == 1)
		if (strcmp(word, name) == 0)
			return true;
	return false;
}
