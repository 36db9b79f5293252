#include "runtime/guest_assets.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"

int guest_asset_dirs(char dirs[][PATH_MAX], int max)
{
	char exe[PATH_MAX];
	int n = 0;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (len > 0 && n + 2 <= max) {
		exe[len] = '\0';
		char *dir = dirname(exe);
		snprintf(dirs[n++], PATH_MAX, "%s/guest", dir);
		snprintf(dirs[n++], PATH_MAX, "%s/../share/husk", dir);
	}
	if (n < max)
		snprintf(dirs[n++], PATH_MAX, "/usr/local/share/husk");
	if (n < max)
		snprintf(dirs[n++], PATH_MAX, "/usr/share/husk");
	return n;
}

char *guest_asset_find(const char *name, husk_error_t *err)
{
	const char *env = strcmp(name, GUEST_KERNEL_NAME) == 0 ? "HUSK_KERNEL" : "HUSK_INITRD";
	const char *override = getenv(env);
	char dirs[4][PATH_MAX], path[PATH_MAX + 64];
	char searched[4 * (PATH_MAX + 2)] = "";

	if (override && *override) {
		if (access(override, R_OK) == 0)
			return strdup(override);
		husk_error_set(err, errno, "%s=%s", env, override);
		return NULL;
	}
	int n = guest_asset_dirs(dirs, 4);
	for (int i = 0; i < n; i++) {
		int len = snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (len > 0 && (size_t)len < sizeof(path) && access(path, R_OK) == 0)
			return realpath(path, NULL);
		strncat(searched, i ? ", " : "", sizeof(searched) - strlen(searched) - 1);
		strncat(searched, dirs[i], sizeof(searched) - strlen(searched) - 1);
	}
	husk_error_set(err, 0, "guest %s not found (set %s, or looked in: %s)", name, env,
		       searched);
	return NULL;
}
