/* A guest init that fails the way a broken or hostile husk-init would,
 * for tests/integration/faults.bats: the host must end each case with a
 * clear error and leave nothing behind. It stands in for husk-init as
 * /init of an initramfs the test builds with a /fault-mode file, whose
 * first word picks the fault:
 *   segv     PID 1 dies of SIGSEGV (the guest kernel then panics)
 *   silent   never connects to the host: the VMM's boot bound must end it
 *   garbage  connects to the agent port and sends bytes that are no frame,
 *            then waits forever
 */
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/agent_proto.h"

static void wait_forever(void)
{
	for (;;)
		pause();
}

static void send_garbage(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_HOST,
				 .svm_port = HUSK_AGENT_PORT };
	unsigned char junk[4096];
	memset(junk, 0xa5, sizeof(junk));
	for (;;) {
		int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			while (write(fd, junk, sizeof(junk)) > 0)
				;
			wait_forever();
		}
		if (fd >= 0)
			close(fd);
		sleep(1); /* the transport may not be up yet */
	}
}

int main(void)
{
	char mode[32] = "";
	FILE *f = fopen("/fault-mode", "re");
	if (f) {
		if (fscanf(f, "%31s", mode) != 1)
			mode[0] = '\0';
		fclose(f);
	}
	if (strcmp(mode, "segv") == 0)
		*(volatile int *)0 = 1;
	else if (strcmp(mode, "garbage") == 0)
		send_garbage();
	wait_forever();
	return 0;
}
