/* The process.json `exec` sends to the guest, built the way runc builds it:
 * from --process FILE as given, or from the container's config.json
 * process with the command line's overrides. */
#ifndef HUSK_OCI_EXEC_PROCESS_H
#define HUSK_OCI_EXEC_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

struct oci_exec_overrides {
	char *const *args; /* NULL-terminated; required */
	const char **env;  /* KEY=VALUE entries, replacing the same KEY */
	size_t nenv;
	const char *cwd; /* NULL: keep */
	bool has_user;
	uid_t uid;
	gid_t gid;
	const gid_t *additional_gids;
	size_t nadditional_gids;
	bool terminal;
	const char **caps; /* added to every capability set but ambient */
	size_t ncaps;
	bool no_new_privileges;
};

/* CONFIG is config.json's text. Returns malloc'd process JSON, or NULL with
 * *err naming what was wrong. */
char *oci_exec_process_json(const char *config, size_t len, const struct oci_exec_overrides *o,
			    husk_error_t *err);

#endif
