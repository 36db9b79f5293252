#ifndef HUSK_BASE_VERSION_H
#define HUSK_BASE_VERSION_H

/* Set by the Makefile from VERSION and git; the fallbacks keep a build from
 * a tarball working. */
#ifndef HUSK_VERSION
#define HUSK_VERSION "0.0.0"
#endif
#ifndef HUSK_COMMIT
#define HUSK_COMMIT "unknown"
#endif

#endif
