/* `husk debug run`: a bundle's process in a micro-VM through husk-init. */
#ifndef HUSK_RUNTIME_DEBUG_RUN_H
#define HUSK_RUNTIME_DEBUG_RUN_H

#include "base/error.h"

/* argv[0] is "run". Returns the process's exit status, or -1 with *err. */
int debug_run(int argc, char **argv, husk_error_t *err);

#endif
