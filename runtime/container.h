/* struct container and its state store: one directory per container under
 * --root, <root>/<id>/state.json (written atomically: temp file, fsync,
 * rename), locked with flock(2) on the directory so that concurrent husk
 * commands on one container take turns. The VMM's control socket lives
 * there too. */
#ifndef HUSK_RUNTIME_CONTAINER_H
#define HUSK_RUNTIME_CONTAINER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "oci/state.h"

/* The largest state.json husk writes and reads: it holds the config's
 * annotations (Kubernetes allows 256 KiB of them) besides a few paths. */
#define HUSK_STATE_MAX (1u << 20)

enum container_status {
	CONTAINER_CREATED,
	CONTAINER_RUNNING,
	CONTAINER_PAUSED,
	CONTAINER_STOPPED,
};

const char *container_status_name(enum container_status s);

struct container {
	struct oci_state_record *rec;
	int dirfd; /* <root>/<id>, flock'd */
	char dir[PATH_MAX];
};

/* runc's rule for ids: letters, digits, '_', '+', '-' and '.', not "." or
 * "..". Fails with runc's "invalid container ID format". */
int container_validate_id(const char *id, husk_error_t *err);

/* Makes <root>/<id> (and ROOT, mode 0700) and locks it; fails with runc's
 * "container with given ID already exists" when it is there. */
int container_new(const char *root, const char *id, struct container **out, husk_error_t *err);

/* Opens and locks <root>/<id> and reads its record; "container does not
 * exist" when there is none. EXCLUSIVE picks the lock kind. */
int container_load(const char *root, const char *id, bool exclusive, struct container **out,
		   husk_error_t *err);

int container_save(struct container *c, husk_error_t *err);

/* Writes NAME, a new file (never one already there, nor through a
 * symlink), 0600 in C's directory; flushed to disk before it returns. */
int container_write_new(struct container *c, const char *name, const void *data, size_t len,
			husk_error_t *err);

/* The whole of NAME in C's directory (a regular file of at most MAX
 * bytes, not followed through a symlink), NUL-terminated; *LEN its size. */
char *container_read_file(const struct container *c, const char *name, size_t max, size_t *len,
			  husk_error_t *err);

/* Lets go of C's lock, for what must not hold it: a long wait (events
 * between ticks), a hook that may run husk itself. */
void container_unlock(struct container *c);

/* Takes C's lock again, of the kind EXCLUSIVE says (also turning a held
 * lock into the other kind; flock does that by letting go first), and
 * reads the record anew: "container does not exist" if it went meanwhile.
 * Whatever the caller checked before must be checked again. */
int container_relock(struct container *c, bool exclusive, husk_error_t *err);

/* The live status: stopped once the VMM is gone (or a zombie, or its pid was
 * reused); paused when its cgroup is frozen. *PID gets the VMM's pid, or 0
 * when stopped. */
enum container_status container_status(const struct container *c, pid_t *pid);

/* Removes the state directory (and with it the lock). */
int container_remove(struct container *c, husk_error_t *err);

/* Removes ROOT/ID if it holds no record once its lock is free: what a
 * create left that died before it saved one (it had made nothing else).
 * 0 also when there is no such directory. */
int container_remove_unsaved(const char *root, const char *id, husk_error_t *err);
void container_free(struct container *c);

/* The start time of PID (clock ticks since boot), 0 when PID is gone or a
 * zombie. */
unsigned long long container_pid_start_time(pid_t pid);

/* "/proc/self/fd/N/NAME" for a socket in the state directory: unix socket
 * paths are limited to 108 bytes, and --root paths from containerd are
 * long. */
void container_sock_path(const struct container *c, const char *name, char *out, size_t len);

/* The current time as runc writes it: RFC 3339 with nanoseconds, UTC. */
void container_time_now(char *out, size_t len);

#endif
