/* `--share TAG=DIR[:ro][:cache=always|auto][:dax[=MIB]][:setid]`: a
 * virtio-fs share named on the command line. Options are taken from the
 * right, so DIR itself may hold ':' and '=' (only a trailing ":ro",
 * ":cache=...", ":dax..." or ":setid" is an option). dax gives the share a
 * DAX window of MIB MiB (default SHARE_DAX_DEFAULT_MIB), for `mount -o dax`
 * in the guest; setid lets the guest make set-ID files and set security.*
 * and trusted.* xattrs on the host (vmm/virtio/fuse_server.h). */
#ifndef HUSK_SHARE_SPEC_H
#define HUSK_SHARE_SPEC_H

#include "base/error.h"
#include "vmm/virtio/fuse_server.h"
#include "vmm/vm.h"

#define SHARE_DAX_DEFAULT_MIB 1024
#define SHARE_DAX_MAX_MIB (FUSE_SERVER_DAX_MAX >> 20)

/* Parses SPEC into *OUT, whose strings point into BUF (BUFSIZE bytes, a
 * copy of SPEC cut into pieces). */
int share_spec_parse(const char *spec, char *buf, size_t bufsize, struct vm_share *out,
		     husk_error_t *err);

#endif
