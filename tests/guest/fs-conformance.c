/* fs-conformance rw DIR HOST_OUTSIDE | ro DIR: run inside the test guest on
 * a virtio-fs mount (tests/vm/fs.bats). Exercises every request husk's
 * FUSE server serves, through the guest kernel's system calls, with the
 * errno each failure must give; prints one TAP line per check group and
 * exits 1 if any failed. HOST_OUTSIDE is a host directory next to the
 * share, holding "marker": the guest tries to reach it (the host then
 * checks it is unchanged). With "ro", DIR is a read-only share holding
 * "existing" and "existing-dir": every change must fail with EROFS.
 *
 * It leaves DIR/conf/ behind for the host to inspect: owners (owned-by-1000,
 * owned-by-root), the pattern file (pattern.bin, 32 MiB) and a file
 * written through mmap (mmap.bin). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int tests, failed, group_failed;
static const char *group;

static void fail(int line, const char *fmt, ...)
{
	va_list ap;

	group_failed = 1;
	printf("#   line %d: ", line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define EXPECT(cond)                                                                       \
	do {                                                                               \
		if (!(cond))                                                               \
			fail(__LINE__, "%s (errno %d %s)", #cond, errno, strerror(errno)); \
	} while (0)

/* CALL must fail with errno ERR. */
#define EXPECT_ERR(call, err)                                                                    \
	do {                                                                                     \
		errno = 0;                                                                       \
		long r_ = (long)(call);                                                          \
		if (r_ != -1 || errno != (err))                                                  \
			fail(__LINE__, "%s: want %s, got %ld (%s)", #call, strerrorname_np(err), \
			     r_, errno ? strerrorname_np(errno) : "no error");                   \
	} while (0)

/* CALL must succeed (not -1). */
#define EXPECT_OK(call)                                                          \
	do {                                                                     \
		errno = 0;                                                       \
		if ((long)(call) == -1)                                          \
			fail(__LINE__, "%s: %s", #call, strerrorname_np(errno)); \
	} while (0)

static void begin(const char *name)
{
	group = name;
	group_failed = 0;
}

static void end(void)
{
	tests++;
	failed += group_failed;
	printf("%sok %d - %s\n", group_failed ? "not " : "", tests, group);
	fflush(stdout);
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

/* Runs FN(ARG) in a child with uid and gid ID; returns its exit status. */
static int as_user(uid_t id, int (*fn)(const char *), const char *arg)
{
	pid_t p = fork();
	if (p == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 ||
		    setresuid(id, id, id) < 0)
			_exit(100);
		_exit(fn(arg));
	}
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* ---- the groups ------------------------------------------------------ */

static void files(void)
{
	char buf[64];
	struct stat st;

	begin("create, write, read, O_EXCL, O_TRUNC, ENOENT");
	EXPECT_OK(write_file("f", "hello"));
	EXPECT(read_file("f", buf, sizeof(buf)) == 5 && strcmp(buf, "hello") == 0);
	EXPECT_ERR(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	EXPECT_ERR(open("missing", O_RDONLY), ENOENT);
	EXPECT_ERR(open("missing/x", O_RDONLY), ENOENT);
	EXPECT_ERR(open("f/x", O_RDONLY), ENOTDIR);
	int fd = open("f", O_WRONLY | O_TRUNC);
	EXPECT(fd >= 0);
	EXPECT_OK(fstat(fd, &st));
	EXPECT(st.st_size == 0);
	close(fd);
	EXPECT_OK(stat("f", &st));
	EXPECT(S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_uid == 0);
	/* O_APPEND */
	EXPECT_OK(write_file("app", "one\n"));
	fd = open("app", O_WRONLY | O_APPEND);
	EXPECT(fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, "two\n", 4) == 4);
	close(fd);
	EXPECT(read_file("app", buf, sizeof(buf)) == 8 && strcmp(buf, "one\ntwo\n") == 0);
	/* An unlinked file stays readable while open. */
	fd = open("app", O_RDONLY);
	EXPECT_OK(unlink("app"));
	EXPECT(fd >= 0 && pread(fd, buf, 4, 4) == 4 && memcmp(buf, "two\n", 4) == 0);
	close(fd);
	EXPECT_ERR(stat("app", &st), ENOENT);
	/* CREATE through open(O_CREAT) with a mode. */
	fd = open("m0600", O_RDWR | O_CREAT, 0600);
	EXPECT(fd >= 0);
	close(fd);
	EXPECT_OK(stat("m0600", &st));
	EXPECT((st.st_mode & 07777) == 0600);
	EXPECT_ERR(open(".", O_WRONLY), EISDIR);
	end();
}

static void dirs(void)
{
	struct stat st;

	begin("mkdir, rmdir, unlink: EEXIST, ENOTEMPTY, ENOTDIR, EISDIR");
	EXPECT_OK(mkdir("d", 0750));
	EXPECT_OK(stat("d", &st));
	EXPECT(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750);
	EXPECT_ERR(mkdir("d", 0755), EEXIST);
	EXPECT_OK(write_file("d/inner", "x"));
	EXPECT_ERR(rmdir("d"), ENOTEMPTY);
	EXPECT_ERR(rmdir("d/inner"), ENOTDIR);
	EXPECT_ERR(unlink("d"), EISDIR);
	EXPECT_OK(unlink("d/inner"));
	EXPECT_ERR(unlink("d/inner"), ENOENT);
	EXPECT_OK(rmdir("d"));
	EXPECT_ERR(rmdir("d"), ENOENT);
	EXPECT_OK(mkdir("deep", 0755));
	EXPECT_OK(mkdir("deep/a", 0755));
	EXPECT_OK(mkdir("deep/a/b", 0755));
	EXPECT_OK(write_file("deep/a/b/c", "deep"));
	EXPECT_OK(stat("deep/a/b/../b/c", &st));
	end();
}

static void links(void)
{
	char buf[PATH_MAX];
	struct stat a, b;

	begin("symlink, readlink, ELOOP; link and nlink");
	EXPECT_OK(write_file("target", "T"));
	EXPECT_OK(symlink("target", "sl"));
	EXPECT(readlink("sl", buf, sizeof(buf)) == 6 && memcmp(buf, "target", 6) == 0);
	EXPECT(read_file("sl", buf, sizeof(buf)) == 1 && buf[0] == 'T');
	EXPECT_OK(lstat("sl", &a));
	EXPECT(S_ISLNK(a.st_mode) && a.st_size == 6);
	EXPECT_ERR(open("sl", O_RDONLY | O_NOFOLLOW), ELOOP);
	EXPECT_ERR(symlink("x", "sl"), EEXIST);
	EXPECT_OK(symlink("loop2", "loop1"));
	EXPECT_OK(symlink("loop1", "loop2"));
	EXPECT_ERR(open("loop1", O_RDONLY), ELOOP);
	EXPECT_ERR(readlink("target", buf, sizeof(buf)), EINVAL);
	char longt[PATH_MAX + 1];
	memset(longt, 'a', PATH_MAX);
	longt[PATH_MAX] = 0;
	EXPECT_ERR(symlink(longt, "toolong"), ENAMETOOLONG);

	EXPECT_OK(link("target", "hard"));
	EXPECT_OK(stat("target", &a));
	EXPECT_OK(stat("hard", &b));
	EXPECT(a.st_ino == b.st_ino && a.st_nlink == 2 && b.st_nlink == 2);
	EXPECT_ERR(link("target", "hard"), EEXIST);
	EXPECT_ERR(link(".", "dirlink"), EPERM);
	EXPECT_OK(unlink("hard"));
	EXPECT_OK(stat("target", &a));
	EXPECT(a.st_nlink == 1);
	end();
}

static void special(void)
{
	struct stat st;

	begin("mknod: FIFO, socket, regular; devices refused");
	EXPECT_OK(mkfifo("fifo", 0640));
	EXPECT_OK(lstat("fifo", &st));
	EXPECT(S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0640);
	EXPECT_OK(mknod("plain", S_IFREG | 0600, 0));
	EXPECT_OK(lstat("plain", &st));
	EXPECT(S_ISREG(st.st_mode));
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "sock" };
	EXPECT(s >= 0);
	EXPECT_OK(bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	close(s);
	EXPECT_OK(lstat("sock", &st));
	EXPECT(S_ISSOCK(st.st_mode));
	EXPECT_ERR(mknod("null", S_IFCHR | 0666, makedev(1, 3)), EPERM);
	EXPECT_ERR(mknod("disk", S_IFBLK | 0666, makedev(8, 0)), EPERM);
	/* A FIFO works within the guest (the guest kernel serves it). */
	pid_t p = fork();
	if (p == 0) {
		int w = open("fifo", O_WRONLY);
		_exit(w >= 0 && write(w, "pipe", 4) == 4 ? 0 : 1);
	}
	char buf[8] = { 0 };
	int r = open("fifo", O_RDONLY);
	EXPECT(r >= 0 && read(r, buf, 4) == 4 && memcmp(buf, "pipe", 4) == 0);
	close(r);
	waitpid(p, NULL, 0);
	end();
}

static void renames(void)
{
	char buf[16];

	begin("rename, RENAME_NOREPLACE, RENAME_EXCHANGE, EINVAL into itself");
	EXPECT_OK(write_file("r1", "one"));
	EXPECT_OK(write_file("r2", "two"));
	EXPECT_OK(mkdir("rd", 0755));
	EXPECT_OK(rename("r1", "rd/r1"));
	EXPECT_ERR(access("r1", F_OK), ENOENT);
	EXPECT_ERR(renameat2(AT_FDCWD, "rd/r1", AT_FDCWD, "r2", RENAME_NOREPLACE), EEXIST);
	EXPECT_OK(renameat2(AT_FDCWD, "rd/r1", AT_FDCWD, "r2", RENAME_EXCHANGE));
	EXPECT(read_file("r2", buf, sizeof(buf)) == 3 && strcmp(buf, "one") == 0);
	EXPECT(read_file("rd/r1", buf, sizeof(buf)) == 3 && strcmp(buf, "two") == 0);
	EXPECT_OK(rename("rd/r1", "r2")); /* replaces */
	EXPECT(read_file("r2", buf, sizeof(buf)) == 3 && strcmp(buf, "two") == 0);
	EXPECT_ERR(rename("rd", "rd/sub"), EINVAL);
	EXPECT_ERR(rename("missing", "x"), ENOENT);
	EXPECT_OK(mkdir("full", 0755));
	EXPECT_OK(write_file("full/x", ""));
	EXPECT_ERR(rename("rd", "full"), ENOTEMPTY);
	EXPECT_ERR(rename("rd", "r2"), ENOTDIR);
	EXPECT_ERR(rename("r2", "rd"), EISDIR);
	end();
}

static void attrs(void)
{
	struct stat st;

	begin("chmod (set-ID bits), chown, truncate, utimensat, UTIME_NOW");
	EXPECT_OK(write_file("attr", "0123456789"));
	EXPECT_OK(chmod("attr", 04755));
	EXPECT_OK(stat("attr", &st));
	EXPECT((st.st_mode & 07777) == 04755);
	EXPECT_OK(chown("attr", 1000, 1000));
	EXPECT_OK(stat("attr", &st));
	EXPECT(st.st_uid == 1000 && st.st_gid == 1000);
	/* chown clears set-ID bits (the guest kernel asks for it) */
	EXPECT((st.st_mode & 06000) == 0);
	EXPECT_OK(chmod("attr", 06755));
	EXPECT_OK(stat("attr", &st));
	EXPECT((st.st_mode & 07777) == 06755);
	EXPECT_OK(truncate("attr", 3));
	EXPECT_OK(stat("attr", &st));
	EXPECT(st.st_size == 3);
	EXPECT_OK(truncate("attr", 1 << 20));
	EXPECT_OK(stat("attr", &st));
	EXPECT(st.st_size == 1 << 20);
	int fd = open("attr", O_RDWR);
	EXPECT(fd >= 0 && ftruncate(fd, 5) == 0);
	close(fd);
	EXPECT_OK(stat("attr", &st));
	EXPECT(st.st_size == 5);
	struct timespec ts[2] = { { 1000000, 11 }, { 2000000, 22 } };
	EXPECT_OK(utimensat(AT_FDCWD, "attr", ts, 0));
	EXPECT_OK(stat("attr", &st));
	EXPECT(st.st_atim.tv_sec == 1000000 && st.st_mtim.tv_sec == 2000000 &&
	       st.st_mtim.tv_nsec == 22);
	struct timespec now[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	EXPECT_OK(utimensat(AT_FDCWD, "attr", now, 0));
	EXPECT_OK(stat("attr", &st));
	EXPECT(st.st_atim.tv_sec == 1000000 && st.st_mtim.tv_sec > 2000000);
	EXPECT_ERR(truncate("missing", 0), ENOENT);
	EXPECT_ERR(truncate(".", 0), EISDIR);
	end();
}

static int try_xattr(const char *ns, char *name, size_t size)
{
	snprintf(name, size, "%shusk", ns);
	return setxattr("xa", name, "value", 5, 0);
}

static void xattrs(void)
{
	char name[64], buf[256];

	begin("setxattr, getxattr, listxattr, removexattr");
	EXPECT_OK(write_file("xa", ""));
	/* The host's tmpfs before 6.6 has no user.* xattrs: then trusted.* */
	if (try_xattr("user.", name, sizeof(name)) < 0 && errno == EOPNOTSUPP)
		EXPECT_OK(try_xattr("trusted.", name, sizeof(name)));
	EXPECT(getxattr("xa", name, buf, sizeof(buf)) == 5 && memcmp(buf, "value", 5) == 0);
	EXPECT(getxattr("xa", name, NULL, 0) == 5);
	EXPECT_ERR(getxattr("xa", name, buf, 2), ERANGE);
	EXPECT_ERR(setxattr("xa", name, "v", 1, XATTR_CREATE), EEXIST);
	ssize_t n = listxattr("xa", buf, sizeof(buf));
	EXPECT(n > 0 && memmem(buf, (size_t)n, name, strlen(name) + 1));
	EXPECT_OK(removexattr("xa", name));
	EXPECT_ERR(getxattr("xa", name, buf, sizeof(buf)), ENODATA);
	EXPECT_ERR(removexattr("xa", name), ENODATA);
	end();
}

static void listing(void)
{
	char p[64];

	begin("readdir of 1000 entries, after unlinks too");
	EXPECT_OK(mkdir("many", 0755));
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "many/entry-%04d", i);
		EXPECT_OK(write_file(p, ""));
	}
	for (int pass = 0; pass < 2; pass++) {
		DIR *d = opendir("many");
		struct dirent *e;
		int n = 0, dots = 0;
		EXPECT(d != NULL);
		while (d && (e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				dots++;
			else if (strncmp(e->d_name, "entry-", 6) == 0 && e->d_type == DT_REG)
				n++;
		}
		if (d)
			closedir(d);
		EXPECT(dots == 2);
		EXPECT(n == (pass ? 500 : 1000));
		for (int i = 0; !pass && i < 1000; i += 2) {
			snprintf(p, sizeof(p), "many/entry-%04d", i);
			EXPECT_OK(unlink(p));
		}
	}
	EXPECT_ERR(opendir("f") ? 0 : -1, ENOTDIR);
	end();
}

static void misc(void)
{
	struct statfs sf;
	struct stat st;

	begin("statfs, fsync, fdatasync, syncfs, fallocate, SEEK_DATA/HOLE, copy_file_range");
	EXPECT_OK(statfs(".", &sf));
	EXPECT(sf.f_bsize > 0 && sf.f_blocks > 0 && sf.f_type == 0x65735546 /* FUSE */);
	int fd = open("sync", O_RDWR | O_CREAT, 0644);
	EXPECT(fd >= 0 && write(fd, "x", 1) == 1);
	EXPECT_OK(fsync(fd));
	EXPECT_OK(fdatasync(fd));
	EXPECT_OK(syncfs(fd));
	int r = fallocate(fd, 0, 0, 1 << 20);
	if (!(r < 0 && errno == EOPNOTSUPP)) {
		EXPECT(r == 0);
		EXPECT_OK(fstat(fd, &st));
		EXPECT(st.st_size == 1 << 20);
	}
	close(fd);
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	EXPECT(dir >= 0);
	EXPECT_OK(fsync(dir));
	close(dir);

	/* Sparse: data at 8 MiB only. */
	fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
	EXPECT(fd >= 0 && pwrite(fd, "data", 4, 8 << 20) == 4);
	EXPECT_OK(fstat(fd, &st));
	EXPECT(st.st_size == (8 << 20) + 4 && st.st_blocks < 1024);
	off_t data = lseek(fd, 0, SEEK_DATA);
	EXPECT(data > 0 && data <= (8 << 20));
	EXPECT(lseek(fd, 0, SEEK_HOLE) == 0);
	char z[4096];
	EXPECT(pread(fd, z, sizeof(z), 4096) == sizeof(z));
	int allzero = 1;
	for (size_t i = 0; i < sizeof(z); i++)
		allzero &= z[i] == 0;
	EXPECT(allzero);
	/* copy_file_range into another file. */
	int out = open("copy", O_RDWR | O_CREAT | O_TRUNC, 0644);
	loff_t in_off = 8 << 20, out_off = 0;
	EXPECT(out >= 0 && copy_file_range(fd, &in_off, out, &out_off, 4, 0) == 4);
	EXPECT(pread(out, z, 4, 0) == 4 && memcmp(z, "data", 4) == 0);
	close(out);
	close(fd);
	end();
}

static int check_access_as_user(const char *unused)
{
	(void)unused;
	/* The guest kernel checks permissions (default_permissions). */
	if (access("root-only", R_OK) == 0 || errno != EACCES)
		return 1;
	if (open("root-only", O_RDONLY) >= 0 || errno != EACCES)
		return 2;
	if (open("owned-by-1000", O_WRONLY | O_CREAT | O_EXCL, 0640) < 0)
		return 3;
	if (mkdir("dir-by-1000", 0700) < 0)
		return 4;
	return 0;
}

static void owners(void)
{
	struct stat st;

	begin("ownership: root's and uid 1000's new files; permission checks");
	EXPECT_OK(write_file("owned-by-root", "r"));
	EXPECT_OK(write_file("root-only", "secret"));
	EXPECT_OK(chmod("root-only", 0600));
	EXPECT_OK(chmod(".", 0777)); /* uid 1000 may create here */
	int st1 = as_user(1000, check_access_as_user, NULL);
	if (st1)
		fail(__LINE__, "as uid 1000: check %d failed", st1);
	EXPECT_OK(stat("owned-by-1000", &st));
	EXPECT(st.st_uid == 1000 && st.st_gid == 1000 && (st.st_mode & 07777) == 0640);
	EXPECT_OK(stat("dir-by-1000", &st));
	EXPECT(st.st_uid == 1000 && S_ISDIR(st.st_mode));
	EXPECT_OK(stat("owned-by-root", &st));
	EXPECT(st.st_uid == 0 && st.st_gid == 0);
	/* A set-group-ID directory hands down its group. */
	EXPECT_OK(mkdir("sgid", 0775));
	EXPECT_OK(chown("sgid", 0, 4242));
	EXPECT_OK(chmod("sgid", 02775));
	EXPECT_OK(mkdir("sgid/sub", 0755));
	EXPECT_OK(stat("sgid/sub", &st));
	EXPECT(st.st_gid == 4242 && (st.st_mode & S_ISGID));
	end();
}

/* 32 MiB of a position-dependent pattern, written in odd-sized chunks,
 * read back through a fresh open; the host checks its sha256 too. */
static void integrity(void)
{
	const size_t total = 32 << 20, chunk = 1000003;
	uint8_t *buf = malloc(chunk);
	struct stat st;

	begin("data integrity: 32 MiB pattern, mmap read and write");
	int fd = open("pattern.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	EXPECT(fd >= 0 && buf);
	for (size_t off = 0; fd >= 0 && buf && off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		if (write(fd, buf, n) != (ssize_t)n) {
			fail(__LINE__, "write at %zu: %s", off, strerror(errno));
			break;
		}
	}
	EXPECT_OK(fsync(fd));
	close(fd);
	/* Drop the guest's page cache so the reads below reach the host. */
	sync();
	int dc = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (dc >= 0) {
		EXPECT(write(dc, "3", 1) == 1);
		close(dc);
	}
	fd = open("pattern.bin", O_RDONLY);
	size_t off = 0, bad = SIZE_MAX;
	ssize_t n;
	while (fd >= 0 && buf && (n = read(fd, buf, chunk)) > 0) {
		for (ssize_t i = 0; i < n && bad == SIZE_MAX; i++)
			if (buf[i] != pattern(off + (size_t)i))
				bad = off + (size_t)i;
		off += (size_t)n;
	}
	close(fd);
	EXPECT(off == total);
	if (bad != SIZE_MAX)
		fail(__LINE__, "byte %zu differs", bad);

	/* mmap: read the pattern, then write a file through a shared map. */
	fd = open("pattern.bin", O_RDONLY);
	uint8_t *m = fd >= 0 ? mmap(NULL, total, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	EXPECT(m != MAP_FAILED);
	if (m != MAP_FAILED) {
		for (size_t i = 0; i < total; i += 4093)
			if (m[i] != pattern(i)) {
				fail(__LINE__, "mmap byte %zu differs", i);
				break;
			}
		munmap(m, total);
	}
	close(fd);
	const size_t msize = 4 << 20;
	fd = open("mmap.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	EXPECT(fd >= 0 && ftruncate(fd, (off_t)msize) == 0);
	m = fd >= 0 ? mmap(NULL, msize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	EXPECT(m != MAP_FAILED);
	if (m != MAP_FAILED) {
		for (size_t i = 0; i < msize; i++)
			m[i] = pattern(i * 3);
		EXPECT_OK(msync(m, msize, MS_SYNC));
		munmap(m, msize);
	}
	EXPECT(pread(fd, buf, 4096, 4096) == 4096);
	for (size_t i = 0; i < 4096; i++)
		if (buf[i] != pattern((4096 + i) * 3)) {
			fail(__LINE__, "mmap-written byte %zu differs", 4096 + i);
			break;
		}
	close(fd);
	EXPECT_OK(stat("mmap.bin", &st));
	EXPECT(st.st_size == (off_t)msize);
	free(buf);
	end();
}

/* From the guest, ".." at the mount's root is the guest's own directory
 * and symlinks resolve in the guest: nothing reaches the host's tree. */
static void escapes(const char *mnt, const char *outside)
{
	char target[PATH_MAX];
	char buf[256], cwd[PATH_MAX], parent[PATH_MAX];
	struct stat a, b;

	begin("escapes: .. at the root, symlinks to host paths");
	snprintf(parent, sizeof(parent), "%s/..", mnt);
	EXPECT_OK(stat(parent, &a));
	EXPECT_OK(stat("/", &b));
	EXPECT(a.st_ino == b.st_ino && a.st_dev == b.st_dev); /* the guest's / */
	snprintf(parent, sizeof(parent), "%s/../../../../etc", mnt);
	EXPECT_OK(stat(parent, &a));
	EXPECT(getcwd(cwd, sizeof(cwd)) != NULL);
	/* A symlink to a host path leads into the guest, not the host: the
	 * marker the host put next to the share is not there. */
	snprintf(target, sizeof(target), "%s/marker", outside);
	EXPECT_OK(symlink(target, "to-host"));
	EXPECT_ERR(open("to-host", O_RDONLY), ENOENT);
	EXPECT_ERR(open("to-host", O_WRONLY | O_TRUNC), ENOENT);
	snprintf(target, sizeof(target), "../../../../../../../..%s", outside);
	EXPECT_OK(symlink(target, "up-host"));
	EXPECT_ERR(stat("up-host/marker", &a), ENOENT);
	snprintf(target, sizeof(target), "%s/../outside/marker", mnt);
	EXPECT_ERR(open(target, O_RDONLY), ENOENT);
	/* Writing through one writes the guest's file. */
	EXPECT_OK(symlink("/tmp/guest-file", "to-guest-tmp"));
	EXPECT_OK(write_file("to-guest-tmp", "guest"));
	EXPECT(read_file("/tmp/guest-file", buf, sizeof(buf)) == 5);
	/* Names the guest kernel would never send cannot be made here. */
	EXPECT_ERR(mkdir("a/b/c", 0755), ENOENT);
	end();
}

static void readonly(void)
{
	char buf[64];
	struct stat st;

	begin("read-only share: EROFS for every change");
	EXPECT(read_file("existing", buf, sizeof(buf)) >= 0);
	EXPECT_ERR(open("existing", O_WRONLY), EROFS);
	EXPECT_ERR(open("existing", O_RDWR), EROFS);
	EXPECT_ERR(open("new", O_WRONLY | O_CREAT, 0644), EROFS);
	EXPECT_ERR(mkdir("newdir", 0755), EROFS);
	EXPECT_ERR(mkfifo("newfifo", 0644), EROFS);
	EXPECT_ERR(symlink("x", "newlink"), EROFS);
	EXPECT_ERR(link("existing", "newhard"), EROFS);
	EXPECT_ERR(unlink("existing"), EROFS);
	EXPECT_ERR(rmdir("existing-dir"), EROFS);
	EXPECT_ERR(rename("existing", "renamed"), EROFS);
	EXPECT_ERR(chmod("existing", 0777), EROFS);
	EXPECT_ERR(chown("existing", 1, 1), EROFS);
	EXPECT_ERR(truncate("existing", 0), EROFS);
	EXPECT_ERR(setxattr("existing", "user.x", "v", 1, 0), EROFS);
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };
	EXPECT_ERR(utimensat(AT_FDCWD, "existing", ts, 0), EROFS);
	EXPECT_OK(stat("existing", &st));
	EXPECT(st.st_mtime != 1);
	end();
}

int main(int argc, char **argv)
{
	char conf[PATH_MAX];

	bool ro = argc == 3 && strcmp(argv[1], "ro") == 0;
	if (!ro && !(argc == 4 && strcmp(argv[1], "rw") == 0)) {
		fprintf(stderr, "usage: fs-conformance rw DIR HOST_OUTSIDE | ro DIR\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (ro) {
		if (chdir(argv[2]) < 0) {
			perror(argv[2]);
			return 2;
		}
		readonly();
	} else {
		snprintf(conf, sizeof(conf), "%s/conf", argv[2]);
		if (mkdir(conf, 0755) < 0 || chdir(conf) < 0) {
			perror(conf);
			return 2;
		}
		files();
		dirs();
		links();
		special();
		renames();
		attrs();
		xattrs();
		listing();
		misc();
		owners();
		integrity();
		escapes(argv[2], argv[3]);
	}
	printf("1..%d\nfs-conformance: %d passed, %d failed\n", tests, tests - failed, failed);
	return failed ? 1 : 0;
}
