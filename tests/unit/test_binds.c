/* runtime/binds.c: which mounts become entries of the bind share, the
 * errors for sources that cannot, and (as root, in a private mount
 * namespace) the staged share itself: the host's files, writable or
 * read-only per entry, and nothing more. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci/config.h"
#include "runtime/binds.h"
#include "base/fileio.h"
#include "tests/unit/tap.h"

static char *scratch(void)
{
	char tmpl[] = "/tmp/husk-binds-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static struct oci_config *config_with(const char *mounts, husk_error_t *err)
{
	char json[4096];
	snprintf(json, sizeof(json),
		 "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},\"mounts\":[%s]}",
		 mounts);
	return oci_config_parse(json, strlen(json), err);
}

/* binds_plan over a config holding MOUNTS; -2 if that config does not
 * parse (a broken test, not a refused mount). */
static int plan_from(const char *mounts, const char *bundle, struct bind_plan *p, husk_error_t *err)
{
	struct oci_config *cfg = config_with(mounts, err);
	if (!cfg)
		return -2;
	int r = binds_plan(cfg, bundle, p, err);
	oci_config_free(cfg);
	return r;
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", dir);
	(void)!system(cmd);
}

TEST(binds_plan_takes_files_and_directories)
{
	husk_error_t err = NULL;
	char *d = scratch(), m[2048];
	CHECK(d);
	put(d, "hosts", "127.0.0.1 localhost\n");
	mkdir(strcat(strcpy(m, d), "/vol"), 0755);
	snprintf(
		m, sizeof(m),
		"{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		"{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"hosts\",\"options\":[\"bind\"]},"
		"{\"destination\":\"/v\",\"type\":\"bind\",\"source\":\"%s/vol\",\"options\":[\"rbind\",\"ro\"]}",
		d);
	struct bind_plan p;
	CHECK_INT(plan_from(m, d, &p, &err), 0);
	CHECK_INT(p.n, 2);
	/* The relative source is the bundle's; entries keep mounts[] indexes. */
	char want[600];
	snprintf(want, sizeof(want), "%s/hosts", d);
	CHECK_STR(p.entries[0].source, want);
	CHECK_INT(p.entries[0].index, 1);
	CHECK(!p.entries[0].dir && !p.entries[0].readonly && !p.entries[0].recursive);
	CHECK_INT(p.entries[1].index, 2);
	CHECK(p.entries[1].dir && p.entries[1].readonly && p.entries[1].recursive);
	CHECK(!p.all_readonly);
	CHECK_INT(p.tags[1].mount_index, 2);
	CHECK_STR(p.tags[1].tag, BINDS_TAG);
	binds_free(&p);
	CHECK_INT(p.n, 0);
	rm_rf(d);
	free(d);
}

TEST(binds_plan_errors_name_the_mount)
{
	husk_error_t err = NULL;
	char *d = scratch(), m[1024], sock[100];
	CHECK(d);
	struct bind_plan p;

	/* Missing source. */
	CHECK_INT(
		plan_from(
			"{\"destination\":\"/a\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
			"{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"/nonexistent/husk\",\"options\":[\"bind\"]}",
			d, &p, &err),
		-1);
	CHECK(strstr(err->msg, "mounts[1].source /nonexistent/husk: no such file"));
	husk_error_release(&err);

	/* A socket. */
	CHECK(snprintf(sock, sizeof(sock), "%s/s", d) < (int)sizeof(sock));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	close(fd);
	snprintf(
		m, sizeof(m),
		"{\"destination\":\"/s\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"bind\"]}",
		sock);
	CHECK_INT(plan_from(m, d, &p, &err), -1);
	CHECK(strstr(err->msg, "mounts[0].source"));
	CHECK(strstr(err->msg, "a socket cannot be bind-mounted"));
	husk_error_release(&err);

	/* More than the agent takes: the first one too many is named. */
	size_t cap = (AGENT_MAX_BINDS + 2) * 160;
	char *many = calloc(1, cap);
	CHECK(many);
	for (unsigned i = 0; i <= AGENT_MAX_BINDS; i++)
		snprintf(
			many + strlen(many), cap - strlen(many),
			"%s{\"destination\":\"/m%u\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"bind\"]}",
			i ? "," : "", i, d);
	char *json = NULL;
	CHECK(asprintf(&json,
		       "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},\"mounts\":[%s]}",
		       many) > 0);
	free(many);
	struct oci_config *cfg = oci_config_parse(json, strlen(json), &err);
	free(json);
	if (!cfg)
		fprintf(stderr, "# %s\n", err->msg);
	CHECK(cfg);
	CHECK_INT(binds_plan(cfg, d, &p, &err), -1);
	oci_config_free(cfg);
	char want[64];
	snprintf(want, sizeof(want), "mounts[%u]: more than %u bind mounts", AGENT_MAX_BINDS,
		 AGENT_MAX_BINDS);
	CHECK_STR(err->msg, want);
	husk_error_release(&err);
	rm_rf(d);
	free(d);
}

/* In the forked child, in its own mount namespace: 0 when the staged
 * share is as binds.h says, else the number of the failed check. */
static int stage_and_check(const struct bind_plan *p, const char *stage)
{
	husk_error_t err = NULL;
	char path[700], buf[64];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 1;
	if (binds_stage(p, stage, &err) < 0) {
		fprintf(stderr, "# %s\n", err->msg);
		return 2;
	}
	/* Entry 0: the rw file, written through to the host file. */
	snprintf(path, sizeof(path), "%s/0", stage);
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || write(fd, "more\n", 5) != 5)
		return 3;
	close(fd);
	/* Entry 1: the ro file refuses writes on the host side. */
	snprintf(path, sizeof(path), "%s/1", stage);
	if (open(path, O_WRONLY) >= 0 || errno != EROFS)
		return 4;
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, 3) != 3 || memcmp(buf, "ro\n", 3) != 0)
		return 5;
	close(fd);
	/* Entry 2: the directory, with the file's sibling inside. */
	snprintf(path, sizeof(path), "%s/2/sibling", stage);
	if (access(path, F_OK) < 0)
		return 6;
	/* The share holds the entries and nothing can be added. */
	snprintf(path, sizeof(path), "%s/new", stage);
	if (open(path, O_CREAT | O_WRONLY, 0644) >= 0 || errno != EROFS)
		return 7;
	snprintf(path, sizeof(path), "%s/sibling", stage);
	if (access(path, F_OK) == 0)
		return 8;
	return 0;
}

TEST(binds_stage_serves_the_files_alone)
{
	if (geteuid() != 0)
		SKIP("needs root for mount namespaces");
	husk_error_t err = NULL;
	char *d = scratch(), m[2048], stage[600], rw[600];
	CHECK(d);
	put(d, "rw", "rw\n");
	put(d, "ro", "ro\n");
	put(d, "sibling", "secret\n");
	snprintf(stage, sizeof(stage), "%s/stage", d);
	CHECK(mkdir(stage, 0700) == 0);
	snprintf(
		m, sizeof(m),
		"{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"rw\",\"options\":[\"bind\"]},"
		"{\"destination\":\"/etc/resolv.conf\",\"type\":\"bind\",\"source\":\"ro\",\"options\":[\"bind\",\"ro\"]},"
		"{\"destination\":\"/v\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"ro\"]}",
		d);
	struct bind_plan p;
	CHECK_INT(plan_from(m, d, &p, &err), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(stage_and_check(&p, stage));
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	binds_free(&p);
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
	/* The write landed in the host file; the staging mounts died with
	 * the namespace, leaving the empty directory. */
	snprintf(rw, sizeof(rw), "%s/rw", d);
	size_t len;
	char *text = read_whole(rw, 4096, &len, &err);
	CHECK(text);
	CHECK_STR(text, "rw\nmore\n");
	free(text);
	CHECK(rmdir(stage) == 0);
	rm_rf(d);
	free(d);
}
