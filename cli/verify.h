/* `vigil verify` and `vigil computations` (docs/computations.md). */
#ifndef VIGIL_CLI_VERIFY_H
#define VIGIL_CLI_VERIFY_H

#include "cli/http.h"

/* Exit codes of `vigil verify` (docs/interfaces.md). */
#define VERIFY_MATCH 0
#define VERIFY_FAILED 1		/* diverged, or invalid evidence */
#define VERIFY_ERROR 2

/* vigil verify ID [--wait] [--timeout S] [--junit FILE]: argv[0] is
 * "verify". Returns the process exit status (VERIFY_*). */
int cli_verify(const struct cli_ctx *c, int argc, char **argv);

/* vigil computations [ID]: the caller's computations, or one with its
 * checkpoints. 0 or a negative VIGIL_E* code. */
int cli_computations(const struct cli_ctx *c, int argc, char **argv);

#endif
