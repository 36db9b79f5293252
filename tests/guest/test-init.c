/* The init of the guest used by the VM tests (tests/vm/): a stand-in for
 * husk-init that needs no host agent. As PID 1 it mounts /proc, /sys, /dev
 * and /tmp, writes the boot timer, runs the command the kernel passes
 * after "--" on its command line (default: /bin/sh), reaps every process,
 * and ends the VM the way husk's guest side does: the exit status to
 * HUSK_PORT_EXIT, then a reset.
 *
 * With no command after "--", HUSK_TEST_CMD=LINE in the environment runs
 * LINE with /bin/sh -c. With no command but HUSK_TEST_MARKER=TEXT in its environment (a kernel
 * parameter, which the kernel hands to init as an environment variable),
 * it prints TEXT and powers off at once: the benchmark's guest, usable with
 * VMMs that append their own parameters after ours (QEMU microvm does).
 *
 * Run under any other pid it is a tool for the tests:
 *   husk-guest-tool vsock-echo PORT BYTES   send BYTES to host port PORT
 *       over vsock, read them back, exit 0 if they came back intact
 *   husk-guest-tool exit-status CODE [SIGNAL]  report a status and reset
 */
#include <errno.h>
#include <linux/reboot.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/guest_ports.h"

static void power_off(uint32_t code, uint32_t sig)
{
	sync();
	if (ioperm(HUSK_PORT_BOOT_TIMER, 8, 1) == 0)
		outl(HUSK_EXIT_VALID | (sig << 8) | (code & 0xff), HUSK_PORT_EXIT);
	reboot(LINUX_REBOOT_CMD_RESTART);
	_exit(1); /* not reached unless reboot failed */
}

/* A pattern each byte of which depends on its offset, so reordering or
 * loss shows, not only corruption. */
static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static int vsock_echo(unsigned port, uint64_t bytes)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_HOST,
				 .svm_port = port };
	static uint8_t buf[65536];
	uint64_t sent = 0, got = 0;

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "vsock-echo: connect to port %u: %s\n", port, strerror(errno));
		return 1;
	}
	/* Send and receive in turn so neither side's buffer has to hold it all. */
	while (got < bytes) {
		if (sent < bytes && sent - got < 256 * 1024) {
			size_t n = bytes - sent < sizeof(buf) ? bytes - sent : sizeof(buf);
			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(sent + i);
			ssize_t w = write(fd, buf, n);
			if (w <= 0) {
				fprintf(stderr, "vsock-echo: write: %s\n", strerror(errno));
				return 1;
			}
			sent += (uint64_t)w;
			continue;
		}
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0) {
			fprintf(stderr, "vsock-echo: read after %llu bytes: %s\n",
				(unsigned long long)got, r ? strerror(errno) : "EOF");
			return 1;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(got + (uint64_t)i)) {
				fprintf(stderr, "vsock-echo: byte %llu differs\n",
					(unsigned long long)(got + (uint64_t)i));
				return 1;
			}
		got += (uint64_t)r;
	}
	close(fd);
	printf("vsock-echo: %llu bytes intact\n", (unsigned long long)got);
	return 0;
}

static int tool(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "vsock-echo") == 0)
		return vsock_echo((unsigned)atoi(argv[2]), strtoull(argv[3], NULL, 0));
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "exit-status") == 0)
		power_off((uint32_t)atoi(argv[2]), argc == 4 ? (uint32_t)atoi(argv[3]) : 0);
	fprintf(stderr,
		"usage: husk-guest-tool vsock-echo PORT BYTES | exit-status CODE [SIGNAL]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (getpid() != 1)
		return tool(argc, argv);

	/* First thing: the boot timer measures kernel boot to init. */
	if (ioperm(HUSK_PORT_BOOT_TIMER, 8, 1) == 0)
		outl(HUSK_BOOT_MAGIC, HUSK_PORT_BOOT_TIMER);

	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
	mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, NULL);
	setenv("PATH", "/bin:/sbin", 1);
	setenv("HOME", "/", 1);

	const char *marker = getenv("HUSK_TEST_MARKER");
	if (argc == 1 && marker) {
		printf("%s\n", marker);
		fflush(stdout);
		power_off(0, 0);
	}
	/* HUSK_TEST_CMD=LINE: the command when none came after "--". */
	const char *line = getenv("HUSK_TEST_CMD");
	char *sh[] = { "/bin/sh", line ? "-c" : NULL, (char *)line, NULL };
	char **cmd = argc > 1 ? argv + 1 : sh;
	pid_t child = fork();
	if (child == 0) {
		execvp(cmd[0], cmd);
		fprintf(stderr, "test-init: exec %s: %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	int status = 0;
	for (;;) {
		int st;
		pid_t p = wait(&st);
		if (p == child)
			status = st;
		if (p < 0 && errno == ECHILD)
			break; /* the command and every orphan are gone */
	}
	if (WIFSIGNALED(status))
		power_off(128 + WTERMSIG(status), WTERMSIG(status));
	power_off(WEXITSTATUS(status), 0);
}
