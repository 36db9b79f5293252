/* The public API of cgroup.h: picks the driver for a handle and passes each
 * call to it. Also the helpers every part of the module reads and writes
 * cgroups with (libcgroup's errors and values, whole small files), since
 * the concern files and the driver all need them. */
#include "runtime/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/cgroup_internal.h"

const char *const cgroup_ctrl_names[C_N] = {
	[C_MEMORY] = "memory",	 [C_CPU] = "cpu",   [C_CPUACCT] = "cpuacct",
	[C_CPUSET] = "cpuset",	 [C_PIDS] = "pids", [C_FREEZER] = "freezer",
	[C_DEVICES] = "devices",
};

/* ---- libcgroup plumbing ---- */

/* A libcgroup return code as an error: ECGOTHER carries the errno. */
int cgroup_lib_fail(husk_error_t *err, int ret, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ret == ECGOTHER)
		return husk_error_set(err, cgroup_get_last_errno(), "%s", msg);
	return husk_error_set(err, 0, "%s: %s", msg, cgroup_strerror(ret));
}

int cgroup_lib_init(husk_error_t *err)
{
	static bool done;
	static int ret;

	/* libcgroup reads the mount table once; husk is one short-lived
	 * command, so once per process is right. */
	if (!done) {
		ret = cgroup_init();
		done = true;
	}
	if (ret != 0)
		return cgroup_lib_fail(err, ret, "libcgroup");
	return 0;
}

/* ---- small file helpers ---- */

bool cgroup_file_exists(const char *dir, const char *file)
{
	char p[PATH_MAX];
	struct stat st;

	if (file)
		snprintf(p, sizeof(p), "%s/%s", dir, file);
	else
		snprintf(p, sizeof(p), "%s", dir);
	return stat(p, &st) == 0;
}

/* Reads DIR/FILE whole into BUF, NUL-terminated. -1 with errno. */
ssize_t cgroup_file_read(const char *dir, const char *file, char *buf, size_t size)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Writes VALUE to DIR/FILE in one write(2), as cgroup files want. */
int cgroup_file_write(const char *dir, const char *file, const char *value)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t r = write(fd, value, len);
	if (r < 0)
		return -1;
	if ((size_t)r != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Whether WORD is one of the blank-separated words of LIST. */
bool cgroup_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

uint64_t cgroup_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cgroup_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- reading and writing values through libcgroup ---- */

/* FIELD (may be NULL) names what in the config asked for the value. */
int cgroup_value_set(struct cgroup_handle *cg, enum ctrl c, const char *file, const char *value,
		     const char *field, husk_error_t *err)
{
	cleanup_libcg struct cgroup *lc = cgroup_new_cgroup(cg->name);
	struct cgroup_controller *ctl = lc ? cgroup_add_controller(lc, cgroup_ctrl_names[c]) : NULL;
	int ret;

	if (!ctl)
		return husk_error_set(err, ENOMEM, "cgroup %s", cg->path);
	if ((ret = cgroup_add_value_string(ctl, file, value)) != 0 ||
	    (ret = cgroup_modify_cgroup(lc)) != 0)
		return cgroup_lib_fail(err, ret, "%s%sset %s of cgroup %s to %s",
				       field ? field : "", field ? ": " : "", file, cg->path,
				       value);
	return 0;
}

/* First line of controller C's FILE, without its newline. */
int cgroup_value_read(struct cgroup_handle *cg, enum ctrl c, const char *file, char *buf,
		      size_t size, husk_error_t *err)
{
	void *h = NULL;
	cleanup_free char *name = strdup(file);

	if (!name)
		return husk_error_set(err, ENOMEM, "%s", file);
	buf[0] = '\0';
	int ret = cgroup_read_value_begin(cgroup_ctrl_names[c], cg->name, name, &h, buf, (int)size);
	if (h)
		cgroup_read_value_end(&h);
	if (ret != 0 && ret != ECGEOF)
		return cgroup_lib_fail(err, ret, "read %s of cgroup %s", file, cg->path);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* ---- the driver ---- */

/* cgroupfs is the one driver: husk writes the cgroup itself, and lays a
 * systemd cgroupsPath out as systemd would without asking systemd
 * (cgroup_resolve()). A systemd driver would be chosen here. */
static struct cgroup_handle *handle_for(const char *path, husk_error_t *err)
{
	struct cgroup_handle *cg = cgroup_handle_new(path, err);

	if (cg)
		cg->drv = &cgroup_driver_cgroupfs;
	return cg;
}

/* ---- the public API ---- */

void cgroup_handle_free(struct cgroup_handle *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < C_N; i++) {
		free(cg->c[i].mount);
		free(cg->c[i].dir);
	}
	free(cg->v2_dir);
	free(cg->path);
	free(cg);
}

const char *cgroup_path(const struct cgroup_handle *cg)
{
	return cg->path;
}

bool cgroup_devices_confined(const struct cgroup_handle *cg)
{
	return cg->devices_confined;
}

bool cgroup_created(const struct cgroup_handle *cg)
{
	return cg->created;
}

int cgroup_create(const char *path, const struct oci_resources *res, unsigned flags,
		  struct cgroup_handle **out, husk_error_t *err)
{
	static const struct oci_resources none;
	cleanup_cgroup struct cgroup_handle *cg = handle_for(path, err);

	*out = NULL;
	if (!cg)
		return -1;
	cg->flags = flags;
	if (cg->drv->create(cg, res ? res : &none, err) < 0)
		return -1;
	*out = steal_pointer(&cg);
	return 0;
}

struct cgroup_handle *cgroup_open(const char *path, husk_error_t *err)
{
	struct cgroup_handle *cg = handle_for(path, err);

	if (cg)
		cg->drv->open(cg);
	return cg;
}

int cgroup_attach(struct cgroup_handle *cg, pid_t pid, husk_error_t *err)
{
	return cg->drv->attach(cg, pid, err);
}

int cgroup_update(struct cgroup_handle *cg, const struct oci_resources *res, husk_error_t *err)
{
	return cg->drv->update(cg, res, err);
}

int cgroup_freeze(struct cgroup_handle *cg, bool frozen, husk_error_t *err)
{
	return cg->drv->freeze(cg, frozen, err);
}

int cgroup_is_frozen(struct cgroup_handle *cg, bool *frozen, husk_error_t *err)
{
	return cg->drv->is_frozen(cg, frozen, err);
}

int cgroup_pids(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err)
{
	return cg->drv->pids(cg, pids, n, err);
}

int cgroup_stats(struct cgroup_handle *cg, struct cgroup_stats *st, husk_error_t *err)
{
	return cg->drv->stats(cg, st, err);
}

int cgroup_release_kthreads(struct cgroup_handle *cg, husk_error_t *err)
{
	return cg->drv->release_kthreads(cg, err);
}

int cgroup_destroy(struct cgroup_handle *cg, husk_error_t *err)
{
	return cg->drv->destroy(cg, err);
}
