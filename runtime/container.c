/* struct container and its state store: see container.h. */
#include "runtime/container.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "base/cleanup.h"
#include "base/fileio.h"

#define STATE_FILE "state.json"

const char *container_status_name(enum container_status s)
{
	static const char *const names[] = { "created", "running", "paused", "stopped" };
	return names[s];
}

int container_validate_id(const char *id, husk_error_t *err)
{
	size_t n = strlen(id);
	if (n == 0)
		return husk_error_set(err, 0, "container id cannot be empty");
	if (n > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return husk_error_set(err, 0, "invalid container ID format");
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_+-.", *p))
			return husk_error_set(err, 0, "invalid container ID format");
	return 0;
}

static int lock_dir(struct container *c, bool exclusive, husk_error_t *err)
{
	while (flock(c->dirfd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return husk_error_set(err, errno, "lock %s", c->dir);
	return 0;
}

/* (Re)reads C's record from its directory. */
static int read_record(struct container *c, husk_error_t *err)
{
	size_t n;
	cleanup_free char *buf = NULL;
	husk_error_t read_err cleanup_error = NULL;
	if (!(buf = container_read_file(c, STATE_FILE, HUSK_STATE_MAX, &n, &read_err))) {
		/* The directory exists without a record: a create that died
		 * before saving, or a delete in between. Either way there is no
		 * container to act on. */
		if (read_err->errnum == ENOENT)
			return husk_error_set(err, 0, "container does not exist");
		*err = read_err;
		read_err = NULL;
		return -1;
	}
	char what[PATH_MAX + 16];
	snprintf(what, sizeof(what), "%s/" STATE_FILE, c->dir);
	struct oci_state_record *rec = oci_state_record_parse(buf, n, what, err);
	if (!rec)
		return -1;
	oci_state_record_free(c->rec);
	c->rec = rec;
	return 0;
}

/* A container for ROOT/ID with nothing open yet: the id checked, the
 * directory's path made. */
static struct container *container_alloc(const char *root, const char *id, husk_error_t *err)
{
	if (container_validate_id(id, err) < 0)
		return NULL;
	struct container *c = calloc(1, sizeof(*c));
	if (!c) {
		husk_error_set(err, ENOMEM, "container");
		return NULL;
	}
	c->dirfd = -1;
	if (snprintf(c->dir, sizeof(c->dir), "%s/%s", root, id) >= (int)sizeof(c->dir)) {
		container_free(c);
		husk_error_set(err, ENAMETOOLONG, "%s/%s", root, id);
		return NULL;
	}
	return c;
}

int container_new(const char *root, const char *id, struct container **out, husk_error_t *err)
{
	if (container_validate_id(id, err) < 0)
		return -1;
	if (mkdir_p(root, 0700) < 0)
		return husk_error_set(err, errno, "mkdir %s", root);
	struct container *c = container_alloc(root, id, err);
	if (!c)
		return -1;
	if (mkdir(c->dir, 0700) < 0) {
		int e = errno;
		container_free(c);
		if (e == EEXIST)
			return husk_error_set(err, 0, "container with given ID already exists");
		return husk_error_set(err, e, "mkdir %s", c->dir);
	}
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0 || lock_dir(c, true, err) < 0) {
		if (c->dirfd < 0)
			husk_error_set(err, errno, "open %s", c->dir);
		rmdir(c->dir);
		container_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int container_load(const char *root, const char *id, bool exclusive, struct container **out,
		   husk_error_t *err)
{
	struct container *c = container_alloc(root, id, err);
	if (!c)
		return -1;
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		int e = errno;
		container_free(c);
		if (e == ENOENT || e == ENOTDIR)
			return husk_error_set(err, 0, "container does not exist");
		return husk_error_set(err, e, "open %s", c->dir);
	}
	if (lock_dir(c, exclusive, err) < 0 || read_record(c, err) < 0) {
		container_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void container_unlock(struct container *c)
{
	flock(c->dirfd, LOCK_UN);
}

int container_relock(struct container *c, bool exclusive, husk_error_t *err)
{
	if (lock_dir(c, exclusive, err) < 0)
		return -1;
	/* Unlocked, anything may have happened: a delete removes the record
	 * (and the directory, which our descriptor still holds). */
	return read_record(c, err);
}

int container_save(struct container *c, husk_error_t *err)
{
	cleanup_free char *json = oci_state_record_to_json(c->rec);
	if (!json)
		return husk_error_set(err, ENOMEM, "state");
	/* Never a record that no one could read back. */
	if (strlen(json) > HUSK_STATE_MAX)
		return husk_error_set(err, EFBIG, "write %s/" STATE_FILE, c->dir);
	cleanup_close int fd =
		openat(c->dirfd, STATE_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return husk_error_set(err, errno, "write %s/" STATE_FILE ".tmp", c->dir);
	size_t len = strlen(json);
	if (write(fd, json, len) != (ssize_t)len || fsync(fd) < 0)
		return husk_error_set(err, errno ? errno : EIO, "write %s/" STATE_FILE ".tmp",
				      c->dir);
	if (renameat(c->dirfd, STATE_FILE ".tmp", c->dirfd, STATE_FILE) < 0)
		return husk_error_set(err, errno, "rename %s/" STATE_FILE, c->dir);
	fsync(c->dirfd);
	return 0;
}

int container_write_new(struct container *c, const char *name, const void *data, size_t len,
			husk_error_t *err)
{
	/* O_EXCL: nothing planted at NAME (a symlink above all) is followed
	 * or reused. */
	cleanup_close int fd =
		openat(c->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return husk_error_set(err, errno, "write %s/%s", c->dir, name);
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno ? errno : EIO;
		unlinkat(c->dirfd, name, 0);
		return husk_error_set(err, e, "write %s/%s", c->dir, name);
	}
	return 0;
}

char *container_read_file(const struct container *c, const char *name, size_t max, size_t *len,
			  husk_error_t *err)
{
	cleanup_close int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		husk_error_set(err, errno, "read %s/%s", c->dir, name);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		husk_error_set(err, S_ISREG(st.st_mode) ? EFBIG : EINVAL, "read %s/%s", c->dir,
			       name);
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t n = 0;
	while (buf && n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			husk_error_set(err, r < 0 ? errno : EIO, "read %s/%s", c->dir, name);
			free(buf);
			return NULL;
		}
		n += (size_t)r;
	}
	if (!buf) {
		husk_error_set(err, ENOMEM, "read %s/%s", c->dir, name);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

unsigned long long container_pid_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	char state = p[2];
	if (state == 'Z' || state == 'X')
		return 0;
	/* field 3 is the state; the start time is field 22 */
	p += 2;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}

enum container_status container_status(const struct container *c, pid_t *pid)
{
	*pid = 0;
	if (c->rec->pid == 0) /* create died before it saved one */
		return CONTAINER_STOPPED;
	unsigned long long t = container_pid_start_time(c->rec->pid);
	if (t == 0 || t != c->rec->pid_start)
		return CONTAINER_STOPPED;
	*pid = c->rec->pid;
	if (c->rec->cgroup_path[0]) {
		bool frozen = false;
		husk_error_t e = NULL;
		struct cgroup_handle *cg = cgroup_open(c->rec->cgroup_path, &e);
		if (cg && cgroup_is_frozen(cg, &frozen, &e) == 0 && frozen) {
			cgroup_handle_free(cg);
			return CONTAINER_PAUSED;
		}
		cgroup_handle_free(cg);
		husk_error_release(&e);
	}
	return c->rec->started ? CONTAINER_RUNNING : CONTAINER_CREATED;
}

static int remove_tree_at(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	if (!d)
		return -1;
	struct dirent *e;
	int ret = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd, e->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno == EISDIR) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				remove_tree_at(sub);
			if (unlinkat(dirfd, e->d_name, AT_REMOVEDIR) == 0)
				continue;
		}
		ret = -1;
	}
	closedir(d);
	return ret;
}

int container_remove_unsaved(const char *root, const char *id, husk_error_t *err)
{
	struct container *c = container_alloc(root, id, err);
	if (!c)
		return -1;
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0) {
		int e = errno;
		container_free(c);
		return e == ENOENT ? 0 : husk_error_set(err, e, "open %s", c->dir);
	}
	/* A create still at work holds the lock: wait for it to finish or
	 * die, then look again. */
	struct stat st;
	int rc = 0;
	if (lock_dir(c, true, err) < 0)
		rc = -1;
	else if (fstat(c->dirfd, &st) == 0 && st.st_nlink > 0 &&
		 faccessat(c->dirfd, STATE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		rc = container_remove(c, err);
	container_free(c);
	return rc;
}

int container_remove(struct container *c, husk_error_t *err)
{
	int fd = dup(c->dirfd);
	if (fd < 0 || remove_tree_at(fd) < 0 || (rmdir(c->dir) < 0 && errno != ENOENT))
		return husk_error_set(err, errno, "remove %s", c->dir);
	return 0;
}

void container_free(struct container *c)
{
	if (!c)
		return;
	if (c->dirfd >= 0)
		close(c->dirfd);
	oci_state_record_free(c->rec);
	free(c);
}

void container_sock_path(const struct container *c, const char *name, char *out, size_t len)
{
	snprintf(out, len, "/proc/self/fd/%d/%s", c->dirfd, name);
}

void container_time_now(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char date[32];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%09ldZ", date, ts.tv_nsec);
}
