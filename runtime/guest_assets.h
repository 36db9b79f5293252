/* Where the guest kernel and initramfs live. Looked up, in order: the
 * HUSK_KERNEL / HUSK_INITRD environment variables; guest/ beside the husk
 * binary (build/husk finds build/guest/); ../share/husk/ from the binary;
 * /usr/local/share/husk; /usr/share/husk. */
#ifndef HUSK_GUEST_ASSETS_H
#define HUSK_GUEST_ASSETS_H

#include <limits.h>

#include "base/error.h"

#define GUEST_KERNEL_NAME "vmlinux"
#define GUEST_INITRD_NAME "initramfs.cpio"

/* Returns a malloc'd path to NAME (one of the above), or fails with a
 * message listing every place that was searched. */
char *guest_asset_find(const char *name, husk_error_t *err);

/* The directories searched after the environment, in order; returns how
 * many of DIRS were filled. */
int guest_asset_dirs(char dirs[][PATH_MAX], int max);

#endif
