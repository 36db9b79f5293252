/* The OCI runtime-spec as husk understands it. json-c stays inside oci/: the
 * rest of husk sees C structures and strings. */
#ifndef HUSK_OCI_SPEC_H
#define HUSK_OCI_SPEC_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

/* The newest runtime-spec version whose config husk reads, and the oldest. */
#define OCI_SPEC_VERSION "1.1.0"
#define OCI_SPEC_VERSION_MIN "1.0.0"

/* The config.json `husk spec` writes: runc's starter spec (runs `sh` with a
 * terminal, runc's default mounts, masked and read-only paths, capabilities
 * and namespaces), rootless-adjusted for UID/GID when ROOTLESS. Returns a
 * malloc'd, tab-indented JSON text ending in no newline, as runc writes it. */
char *oci_default_spec(bool rootless, uid_t uid, gid_t gid, husk_error_t *err);

/* The runtime-spec `features` document for `husk features`. */
char *oci_features(husk_error_t *err);

#endif
