/* The agent's main loop (DESIGN.md, "Registration" and "Push
 * attestation"): register with the verifier (EK, EK certificate, AK),
 * activate the AK's credential, then every interval collect new event-log
 * bytes into the spool, quote with the verifier's last nonce and push the
 * quote, the PCR values and the pending spool items. Unreachable verifier:
 * exponential backoff with jitter (ATTEST_BACKOFF_MIN_MS..MAX_MS) while the
 * spool keeps the evidence. Serves the local socket meanwhile. */
#ifndef VIGIL_AGENT_ATTEST_H
#define VIGIL_AGENT_ATTEST_H

#include <signal.h>
#include <stdint.h>

#include "config.h"

#define ATTEST_BACKOFF_MIN_MS	1000u
#define ATTEST_BACKOFF_MAX_MS	60000u
#define ATTEST_INTERVAL_DEFAULT_MS 10000u
#define ATTEST_INTERVAL_MIN_MS	1000u
#define ATTEST_INTERVAL_MAX_MS	3600000u
#define ATTEST_MAX_ITEMS	1024u	/* items per Evidence request */
#define ATTEST_KEY_FILE		"agent.key"
#define ATTEST_CERT_FILE	"agent.crt"

/* Runs until *stop becomes non-zero (the current push is finished first).
 * Returns 0 then; a negative VIGIL_E* code if the agent cannot run at all
 * (state directory, spool or socket unusable). */
int attest_run(const struct agent_config *cfg, volatile sig_atomic_t *stop);

/* The delay before retry number attempt (0-based): base = MIN << attempt,
 * at most 2/3 of MAX, times a random factor in [1, 1.5] (rnd is a uniform
 * random u32): 1-1.5 s, 2-3 s, ... 40-60 s. */
uint32_t attest_backoff_ms(unsigned attempt, uint32_t rnd);

#endif
