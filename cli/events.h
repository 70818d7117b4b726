/* vigil events, vigil result, vigil audit (docs/cli.md). Each returns the
 * process exit status: 0 success, 1 a result that does not verify, 2 an
 * error (usage, network, the verifier's refusal). argv[0] is the command. */
#ifndef VIGIL_CLI_EVENTS_H
#define VIGIL_CLI_EVENTS_H

#include "cli/http.h"

/* vigil events [--after ID] [--follow]: the events the token may see
 * (GET /v1/events); without --follow the stored ones (all, or after ID),
 * with it those to come (or after ID), reconnecting with Last-Event-ID
 * when the stream breaks. */
int cli_events(const struct cli_ctx *c, int argc, char **argv);
/* vigil result KIND ID [--nonce N] [--verify]: prints the signed result
 * (a JWT); --verify checks it against GET /v1/verifier/jwks, its expiry,
 * subject and nonce (exit 1 when it does not hold). */
int cli_result(const struct cli_ctx *c, int argc, char **argv);
/* vigil audit [--limit N] [--cursor C]: the audit log (operators). */
int cli_audit(const struct cli_ctx *c, int argc, char **argv);

#endif
