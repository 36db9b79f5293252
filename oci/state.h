/* Container state as JSON: the record husk keeps in <root>/<id>/state.json,
 * and the runtime-spec state document that `husk state` prints and hooks
 * read on stdin. json-c stays inside oci/. */
#ifndef HUSK_OCI_STATE_H
#define HUSK_OCI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "oci/config.h"
#include "base/error.h"

struct oci_state_record {
	char *id;
	pid_t pid; /* the VMM process: the container's pid */
	unsigned long long
		pid_start; /* its start time (/proc/PID/stat field 22), against pid reuse */
	char *bundle;	   /* absolute */
	char *rootfs;	   /* absolute */
	char *created;	   /* RFC 3339 with nanoseconds, UTC */
	uid_t owner;
	bool started;	     /* `start` went through */
	char *cgroup_path;   /* resolved cgroup path, "" when none */
	bool cgroup_created; /* husk made it, so delete removes it */
	struct oci_kv *annotations;
	size_t nannotations;
};

/* Compact JSON of the record, malloc'd. NULL on allocation failure. */
char *oci_state_record_to_json(const struct oci_state_record *r);
/* Parses what oci_state_record_to_json() wrote; WHAT names the file. */
struct oci_state_record *oci_state_record_parse(const char *json, size_t len, const char *what,
						husk_error_t *err);
void oci_state_record_free(struct oci_state_record *r);

/* The runtime-spec state: ociVersion, id, status, pid (omitted when 0),
 * bundle, and runc's extra fields rootfs, created, owner, annotations.
 * PRETTY indents like runc's `state`. malloc'd; NULL on allocation failure. */
char *oci_state_to_json(const struct oci_state_record *r, const char *status, pid_t pid,
			bool pretty);

/* One entry of `list --format json` (runc's shape). */
struct oci_list_entry {
	const struct oci_state_record *r;
	const char *status;
	pid_t pid;
};
char *oci_list_to_json(const struct oci_list_entry *e, size_t n);

#endif
