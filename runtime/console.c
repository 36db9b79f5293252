/* Host-side terminals: see console.h. */
#include "runtime/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fdpass.h"

int console_open_pty(unsigned rows, unsigned cols, int *master, int *slave, husk_error_t *err)
{
	char name[64];
	*slave = -1;
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) < 0 || unlockpt(*master) < 0 ||
	    ptsname_r(*master, name, sizeof(name)) != 0 ||
	    (*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return husk_error_set(err, errno, "open a pty");
	struct termios t;
	if (tcgetattr(*slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(*slave, TCSANOW, &t);
	}
	if (rows && cols) {
		struct winsize ws = { .ws_row = (unsigned short)rows,
				      .ws_col = (unsigned short)cols };
		ioctl(*slave, TIOCSWINSZ, &ws);
	}
	return 0;
}

int console_send(const char *path, int master, husk_error_t *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return husk_error_set(err, ENAMETOOLONG, "--console-socket %s", path);
	strcpy(a.sun_path, path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return husk_error_set(err, errno, "--console-socket %s", path);
	static const char name[] = "/dev/ptmx";
	if (fd_send(fd, master, name, sizeof(name) - 1) < 0)
		return husk_error_set(err, errno, "send the console to %s", path);
	return 0;
}
