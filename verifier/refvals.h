/* Reference values: a versioned JSON document (docs/interfaces.md)
 *   {"pcrs": {"0": ["<64 hex>", ...], ...},
 *    "nodes": {"<agent id>": {"pcrs": {"5": ["..."]}}},
 *    "pse_images": ["<64 hex>", ...],
 *    "smm_images": ["<64 hex>", ...],
 *    "boot_policies": {"<name>": {<policy, appraise_boot.h>}},
 *    "boot_policy": "<name>",                    (fleet-wide)
 *    "groups": {"<name>": {"nodes": ["<agent id>", ...],
 *                          "boot_policy": "<name>"}}}
 * and a node entry may hold "boot_policy": "<name>" too.
 * Each PCR may list several accepted values; a node's own entry for a PCR
 * wins over the global one. Parsing is strict: unknown keys, bad hex,
 * PCR numbers out of range and wrong types are rejected naming the field. */
#ifndef VIGIL_REFVALS_H
#define VIGIL_REFVALS_H

#include <stddef.h>
#include <stdint.h>

#include "pcrs.h"

/* 1 MiB: boot policies name every PK/KEK/db/dbx entry of the machines
 * they were made from (PUT /v1/reference-values takes this much). */
#define REFVALS_MAX_DOC (1024u * 1024)
#define REFVALS_MAX_VALUES 64	/* per PCR */
#define REFVALS_MAX_NODES 100000

struct refvals;

/* why (may be NULL) gets e.g. `pcrs."7"[1]: not 64 lowercase hex digits`.
 * VIGIL_EINVAL on a bad document. */
int refvals_parse(const char *json, size_t len, struct refvals **out,
    char *why, size_t whylen);
void refvals_free(struct refvals *r);
/* The accepted values of one PCR for one agent (node entry first, then
 * the global one); *n = 0 when there are none. Pointers into r. */
void refvals_for(const struct refvals *r, const char *agent_id,
    uint32_t pcr, const uint8_t (**vals)[SHA256_LEN], size_t *n);
/* The accepted vigil-psed image digests ("pse_images", PCR 3's
 * VIGIL_TAG_PSE_IMAGE event; appraise_pse.h); *n = 0 when none are listed.
 * Pointers into r. */
void refvals_pse_images(const struct refvals *r,
    const uint8_t (**vals)[SHA256_LEN], size_t *n);
/* The accepted vigil-smmd image digests ("smm_images", PCR 2's
 * VIGIL_TAG_SMM_IMAGE event; appraise_smm.h); *n = 0 when none are listed.
 * Pointers into r. */
void refvals_smm_images(const struct refvals *r,
    const uint8_t (**vals)[SHA256_LEN], size_t *n);
/* VIGIL_EINVAL, with the field in why (e.g. `pcrs."9": PCR 9 is outside
 * the quoted selection (PCRs 0-7,11): ...`), when the document names a
 * PCR (globally or for a node, even with no value) outside quoted: such a
 * reference value would never be compared (PUT /v1/reference-values
 * refuses it, docs/appraisal.md). */
int refvals_check_selection(const struct refvals *r, uint32_t quoted,
    char *why, size_t whylen);
/* A new document: r (or an empty one when NULL) whose fleet-wide "pcrs"
 * gain the values of the PCRs in mask (learn on first use: the first node's
 * values become every node's reference). Malloc'd JSON. VIGIL_EINVAL
 * when mask names a PCR outside PCR_POLICY_MASK. */
int refvals_learn(const struct refvals *r,
    const struct pcrs *vals, uint32_t mask, char **json_out);

struct bootpol;
/* The measured-boot policy that applies to agent_id: its node entry's
 * "boot_policy", else that of the group listing it (a node is in at most
 * one group), else the fleet-wide "boot_policy"; NULL when none. *name
 * gets its name (pointer into r). */
const struct bootpol *refvals_boot_policy(const struct refvals *r,
    const char *agent_id, const char **name);

struct store;
/* Stores learnt, a document refvals_learn made from base (read as
 * version base_version; 0 and NULL when there was none), as the next
 * version, by compare and swap: if the latest version moved since
 * base_version was read, the newer document is never overwritten; the
 * learnt PCRs it still has no value for are learnt onto it and the write
 * is tried again (a few times), and those it names are dropped. 0 and
 * *version the stored version; VIGIL_ESTALE when every learnt value was
 * dropped (logged); another code on a store failure. */
int refvals_learn_store(struct store *s, const char *agent_id,
    const struct refvals *base, int64_t base_version, const char *learnt,
    int64_t *version);

#endif
