/* `--share TAG=DIR[:ro][:cache=always|auto]`: a virtio-fs share named on
 * the command line. Options are taken from the right, so DIR itself may
 * hold ':' and '=' (only a trailing ":ro" or ":cache=..." is an option). */
#ifndef HUSK_SHARE_SPEC_H
#define HUSK_SHARE_SPEC_H

#include "error.h"
#include "vmm/vm.h"

/* Parses SPEC into *OUT, whose strings point into BUF (BUFSIZE bytes, a
 * copy of SPEC cut into pieces). */
int share_spec_parse(const char *spec, char *buf, size_t bufsize, struct vm_share *out,
		     husk_error_t *err);

#endif
