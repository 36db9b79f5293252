/* fs-bench DIR [READ_AHEAD_KB]: the guest half of hack/bench-fs.sh. In DIR:
 * sequential write of a 256 MiB file (1 MiB writes, then fsync), its
 * sequential read after the guest dropped its page cache ("cold": every
 * byte comes from the host; for tmpfs the same memory), a second read
 * ("warm", whatever the guest's cache kept), then create, stat and unlink
 * of 10,000 empty files. With READ_AHEAD_KB the mount's read-ahead window
 * is set first (the guest kernel's default is 128 KiB). Prints one
 * "fs-bench DIR key=value ..." line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define FILE_SIZE (256UL << 20)
#define BLOCK (1UL << 20)
#define NFILES 10000

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "fs-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void drop_caches(void)
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3", 1) != 1)
		die("drop_caches");
	close(fd);
}

static double read_all(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY);
	size_t total = 0;
	ssize_t n;

	if (fd < 0)
		die(path);
	double t0 = now();
	while ((n = read(fd, buf, BLOCK)) > 0)
		total += (size_t)n;
	double t = now() - t0;
	if (n < 0 || total != FILE_SIZE)
		die("read");
	close(fd);
	return (double)FILE_SIZE / (1 << 20) / t;
}

int main(int argc, char **argv)
{
	char path[4096], name[4200];
	struct stat st;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: fs-bench DIR [READ_AHEAD_KB]\n");
		return 2;
	}
	const char *dir = argv[1];
	if (argc == 3) {
		if (stat(dir, &st) < 0)
			die(dir);
		snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev),
			 minor(st.st_dev));
		int fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, argv[2], strlen(argv[2])) < 0)
			die(path);
		close(fd);
	}
	char *buf = aligned_alloc(4096, BLOCK);
	if (!buf)
		die("malloc");
	for (size_t i = 0; i < BLOCK; i++)
		buf[i] = (char)(i * 131 + (i >> 12));

	snprintf(path, sizeof(path), "%s/bench.bin", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(path);
	double t0 = now();
	for (size_t off = 0; off < FILE_SIZE; off += BLOCK)
		if (write(fd, buf, BLOCK) != (ssize_t)BLOCK)
			die("write");
	if (fsync(fd) < 0)
		die("fsync");
	double write_mbs = (double)FILE_SIZE / (1 << 20) / (now() - t0);
	close(fd);

	drop_caches();
	double cold = read_all(path, buf);
	double warm = read_all(path, buf);
	unlink(path);

	snprintf(path, sizeof(path), "%s/bench-files", dir);
	if (mkdir(path, 0755) < 0)
		die(path);
	t0 = now();
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "%s/f%05d", path, i);
		int f = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (f < 0)
			die(name);
		close(f);
	}
	double t_create = now() - t0;
	drop_caches(); /* stat must ask the host, not the guest's dentries */
	t0 = now();
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "%s/f%05d", path, i);
		if (stat(name, &st) < 0)
			die(name);
	}
	double t_stat = now() - t0;
	t0 = now();
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "%s/f%05d", path, i);
		if (unlink(name) < 0)
			die(name);
	}
	double t_unlink = now() - t0;
	rmdir(path);

	printf("fs-bench %s write_mbs=%.0f read_cold_mbs=%.0f read_warm_mbs=%.0f "
	       "create_per_s=%.0f stat_per_s=%.0f unlink_per_s=%.0f\n",
	       dir, write_mbs, cold, warm, NFILES / t_create, NFILES / t_stat, NFILES / t_unlink);
	return 0;
}
