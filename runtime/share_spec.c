#include "runtime/share_spec.h"

#include "runtime/cli.h"

#include <stdio.h>
#include <string.h>

int share_spec_parse(const char *spec, char *buf, size_t bufsize, struct vm_share *out,
		     husk_error_t *err)
{
	*out = (struct vm_share){ 0 };
	if ((size_t)snprintf(buf, bufsize, "%s", spec) >= bufsize)
		return husk_error_set(err, 0, "--share %s: too long", spec);
	char *eq = strchr(buf, '=');
	if (!eq || eq == buf || !eq[1])
		return husk_error_set(
			err, 0, "--share %s: want TAG=DIR[:ro][:cache=always][:dax[=MIB]][:setid]",
			spec);
	*eq = '\0';
	if (strlen(buf) > 36)
		return husk_error_set(err, 0, "--share %s: the tag is longer than 36 bytes", spec);
	char *dir = eq + 1, *colon;
	while ((colon = strrchr(dir, ':'))) {
		if (strcmp(colon, ":ro") == 0)
			out->readonly = true;
		else if (strcmp(colon, ":setid") == 0)
			out->allow_setid = true;
		else if (strcmp(colon, ":cache=always") == 0)
			out->cache_always = true;
		else if (strcmp(colon, ":cache=auto") == 0)
			out->cache_always = false;
		else if (strcmp(colon, ":dax") == 0)
			out->dax_mib = SHARE_DAX_DEFAULT_MIB;
		else if (strncmp(colon, ":dax=", 5) == 0) {
			unsigned long mib;
			if (!cli_parse_ulong(colon + 5, 2, SHARE_DAX_MAX_MIB, &mib) || mib % 2)
				return husk_error_set(
					err, 0,
					"--share %s: dax=%s: want an even number of MiB, 2 to %llu",
					spec, colon + 5, SHARE_DAX_MAX_MIB);
			out->dax_mib = mib;
		} else
			break; /* part of the directory's name */
		*colon = '\0';
	}
	if (!*dir)
		return husk_error_set(err, 0, "--share %s: no directory", spec);
	out->tag = buf;
	out->dir = dir;
	return 0;
}
