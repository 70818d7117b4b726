/* `vigil record`: runs a command as a repeatable computation (docs/record.md,
 * docs/interfaces.md "Repeatable computations"). */
#ifndef VIGIL_CLI_RECORD_H
#define VIGIL_CLI_RECORD_H

#include "cli/http.h"

#define RECORD_MAX_INPUTS	256
#define RECORD_MAX_ENV		128
#define RECORD_BLOB_MAX		(64u * 1024 * 1024)	/* the verifier's */
#define RECORD_EVERY_DEFAULT	(4u * 1024 * 1024)
#define RECORD_EVERY_MAX	((uint64_t)1 << 40)

/* argv[0] is "record". Returns the process exit status: the command's
 * (its exit code, or 128 + the signal that ended it), or 2 when recording
 * failed (before the command ran: it did not run). The computation id is
 * the last line of standard error once the verifier created it. */
int cli_record(const struct cli_ctx *c, int argc, char **argv);

#endif
