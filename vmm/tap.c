#include "vmm/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/cleanup.h"

int tap_open(const char *name, char *name_out, husk_error_t *err)
{
	struct ifreq ifr = { 0 };
	int hdr = TAP_VNET_HDR_LEN;

	if (strlen(name) >= IFNAMSIZ)
		return husk_error_set(err, 0, "tap name %s: longer than %d bytes", name,
				      IFNAMSIZ - 1);
	cleanup_close int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return husk_error_set(err, errno, "open /dev/net/tun");
	/* IFF_NO_PI: frames only. IFF_VNET_HDR: the guest's virtio-net header
	 * travels with each frame, so checksum and segmentation offloads pass
	 * through without the VMM touching the data. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return husk_error_set(err, errno, "tap %s: TUNSETIFF", *name ? name : "(new)");
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return husk_error_set(err, errno, "tap %s: TUNSETVNETHDRSZ", ifr.ifr_name);
	/* No offloads until the guest driver accepts them (virtio/net.c): a
	 * tap reused from an earlier VM may still have some set. */
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0)
		return husk_error_set(err, errno, "tap %s: TUNSETOFFLOAD", ifr.ifr_name);
	if (name_out)
		snprintf(name_out, IFNAMSIZ, "%s", ifr.ifr_name);
	return steal_fd(&fd);
}
