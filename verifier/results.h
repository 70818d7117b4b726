/* Signed results (DESIGN.md "Trust chain", EAR): GET /v1/results/{kind}/{id}
 * answers the latest appraisal of an object as an EAR JWT (ES256, the
 * keys of sigkeys.h), and GET /v1/verifier/jwks publishes the public keys.
 *
 * Claims: "eat_profile": "tag:github.com,2023:veraison/ear", "iat", "exp"
 * (iat + [results] ttl_s), "sub": "KIND/ID", "ear.verifier-id" (the
 * profile's name) and "ear_verifier_id" (draft-ietf-rats-ear's) both
 * {"developer", "build"}, "eat_nonce" when the request gave ?nonce=, and
 * "submods": one submodule per evidence type, each {"ear.status",
 * "ear.trustworthiness-vector", "vigil.appraised-at"}, and a top-level
 * "vigil.appraised-at", the oldest of the submodules' (docs/appraisal.md
 * "Signed results"). "vigil.appraised-at" is the time (unix seconds) of
 * the appraisal a status rests on; iat is only when it was signed. Every
 * status is the effective one at signing (node_status.h): a node without
 * a fresh quote is `none`, a VM is made worse by its host's status now.
 *
 * Kinds are rows of a table in results.c: a name and a function that
 * checks the caller may see the object (anything else is 404) and fills
 * the submodules. node: operators only, submodule "tpm". vm: the owning
 * tenant or operators, submodules "guest" (the vTPM) and "host" (the
 * platform) of its latest attestation. computation: the owning tenant or
 * operators, submodules "checkpoints" and, once a replay ended match or
 * diverged, "replay". A new kind is a row there plus a route
 * /v1/results/KIND/{id} in http.c. */
#ifndef VIGIL_RESULTS_H
#define VIGIL_RESULTS_H

#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "http.h"
#include "sigkeys.h"

#define RESULTS_PROFILE "tag:github.com,2023:veraison/ear"
#define RESULTS_DEVELOPER "https://github.com/vigil-attestation"
#define RESULTS_BUILD "vigil-verifier 0.1.0"
#define RESULTS_NONCE_MAX 88	/* eat_nonce: 8-64 bytes, base64url */
#define RESULTS_APPRAISED_AT "vigil.appraised-at"

/* The key directory: [results] key_dir, or "keys" in the directory of
 * [store] path when it is empty. VIGIL_ETOOBIG if it does not fit. */
int results_key_dir(const struct vconfig *cfg, char out[PATH_MAX]);
/* Opens the key directory (creating the first key) for the routes of this
 * process. results_stop frees it. */
int results_start(const struct vconfig *cfg);
void results_stop(void);

/* The claims of one result (new reference): submods is taken. nonce may
 * be NULL. The top-level RESULTS_APPRAISED_AT is the oldest of the
 * submodules'. */
int results_claims(const char *kind, const char *id, json_t *submods,
    const char *nonce, int64_t iat, unsigned ttl_s, json_t **out);
/* One submodule {"ear.status", "ear.trustworthiness-vector",
 * RESULTS_APPRAISED_AT} from a status and stored vector JSON (new
 * reference). */
int results_submod(const char *status, const char *vector_json,
    int64_t appraised_at, json_t **out);

int routes_results_get(struct http_req *req, struct http_resp *resp);
int routes_jwks_get(struct http_req *req, struct http_resp *resp);

#endif
