/* Bind mounts through one virtio-fs share: see binds.h. */
#include "runtime/binds.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/cleanup.h"

static const char *kind_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFSOCK: return "socket";
	case S_IFIFO: return "FIFO";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	default: return "special file";
	}
}

void binds_free(struct bind_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		free(plan->entries[i].source);
	free(plan->entries);
	free(plan->tags);
	*plan = (struct bind_plan){ 0 };
}

int binds_plan(const struct oci_config *cfg, const char *bundle, struct bind_plan *plan,
	       husk_error_t *err)
{
	size_t want = 0;

	*plan = (struct bind_plan){ .all_readonly = true };
	for (size_t i = 0; i < cfg->nmounts; i++) {
		if (!cfg->mounts[i].bind)
			continue;
		/* The guest agent takes at most this many in CREATE. */
		if (++want > AGENT_MAX_BINDS)
			return husk_error_set(err, 0, "mounts[%zu]: more than %u bind mounts", i,
					      AGENT_MAX_BINDS);
	}
	if (!want)
		return 0;
	plan->entries = calloc(want, sizeof(*plan->entries));
	plan->tags = calloc(want, sizeof(*plan->tags));
	if (!plan->entries || !plan->tags) {
		binds_free(plan);
		return husk_error_set(err, ENOMEM, "bind mounts");
	}
	for (size_t i = 0; i < cfg->nmounts; i++) {
		const struct oci_mount *m = &cfg->mounts[i];
		struct bind_entry *e = &plan->entries[plan->n];
		char path[PATH_MAX];
		struct stat st;

		if (!m->bind)
			continue;
		if (!m->source || !m->source[0]) {
			husk_error_set(err, 0, "mounts[%zu].source: required for a bind mount", i);
			goto fail;
		}
		bool rel = m->source[0] != '/';
		if (snprintf(path, sizeof(path), "%s%s%s", rel ? bundle : "", rel ? "/" : "",
			     m->source) >= (int)sizeof(path)) {
			husk_error_set(err, ENAMETOOLONG, "mounts[%zu].source", i);
			goto fail;
		}
		/* Followed, as runc follows a source symlink: the host's own
		 * paths are the client's to name. */
		if (stat(path, &st) < 0) {
			husk_error_set(err, errno, "mounts[%zu].source %s", i, path);
			goto fail;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
			husk_error_set(
				err, 0,
				"mounts[%zu].source %s: a %s cannot be bind-mounted into a VM "
				"(only files and directories reach the guest, over virtio-fs)",
				i, path, kind_name(st.st_mode));
			goto fail;
		}
		if (!(e->source = strdup(path))) {
			husk_error_set(err, ENOMEM, "bind mounts");
			goto fail;
		}
		e->index = (uint32_t)i;
		e->dir = S_ISDIR(st.st_mode);
		e->readonly = (m->flags & MS_RDONLY) != 0;
		e->recursive = m->recursive;
		if (!e->readonly)
			plan->all_readonly = false;
		plan->tags[plan->n].mount_index = (uint32_t)i;
		snprintf(plan->tags[plan->n].tag, sizeof(plan->tags[0].tag), "%s", BINDS_TAG);
		plan->n++;
	}
	return 0;
fail:
	binds_free(plan);
	return -1;
}

/* Makes the bind mount at TARGET read-only, its submounts too when
 * RECURSIVE. mount_setattr (Linux 5.12) changes that one attribute; an
 * older kernel gets a remount that keeps the flags the mount had. */
static int make_readonly(const char *target, bool recursive)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (mount_setattr(AT_FDCWD, target, recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	struct statvfs sv;
	if (statvfs(target, &sv) < 0)
		return -1;
	unsigned long keep = 0;
	if (sv.f_flag & ST_NOSUID)
		keep |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		keep |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		keep |= MS_NOEXEC;
	return mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL);
}

int binds_stage(const struct bind_plan *plan, const char *dir, husk_error_t *err)
{
	char opts[64], target[PATH_MAX], name[16];

	if (!plan->n)
		return 0;
	/* Entries only, no data: a few inodes, no size worth the name. */
	snprintf(opts, sizeof(opts), "mode=0755,size=16k,nr_inodes=%zu", plan->n + 16);
	if (mount("husk-binds", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return husk_error_set(err, errno, "tmpfs for bind mounts on %s", dir);
	cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return husk_error_set(err, errno, "open %s", dir);
	for (size_t i = 0; i < plan->n; i++) {
		const struct bind_entry *e = &plan->entries[i];
		snprintf(name, sizeof(name), "%u", e->index);
		if (snprintf(target, sizeof(target), "%s/%s", dir, name) >= (int)sizeof(target))
			return husk_error_set(err, ENAMETOOLONG, "%s", dir);
		if (e->dir) {
			if (mkdirat(dfd, name, 0755) < 0)
				return husk_error_set(err, errno, "mounts[%u]: mount point %s",
						      e->index, target);
		} else {
			int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0)
				return husk_error_set(err, errno, "mounts[%u]: mount point %s",
						      e->index, target);
			close(fd);
		}
		/* ENOTDIR here: the source changed kind since create looked. */
		if (mount(e->source, target, NULL, MS_BIND | (e->recursive ? MS_REC : 0), NULL) < 0)
			return husk_error_set(err, errno, "mounts[%u].source %s: bind mount",
					      e->index, e->source);
		if (e->readonly && make_readonly(target, e->recursive) < 0)
			return husk_error_set(err, errno, "mounts[%u].source %s: make read-only",
					      e->index, e->source);
	}
	if (mount(NULL, dir, NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return husk_error_set(err, errno, "make %s read-only", dir);
	return 0;
}
