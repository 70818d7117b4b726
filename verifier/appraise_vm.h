/* Appraisal of one VM attestation (DESIGN.md, trust chain step 5;
 * docs/appraisal.md "VM attestations"). For one verifier nonce the host
 * node returns: the vTPM quote over the nonce, the PSE-certified binding of
 * the node's pTPM AK, and a pTPM "deep quote" whose extraData is
 * SHA-256(nonce || vTPM AK name || VM id). Pure: no HTTP and no store. */
#ifndef VIGIL_APPRAISE_VM_H
#define VIGIL_APPRAISE_VM_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509_vfy.h>

#include "ear.h"
#include "pcrs.h"
#include "refvals.h"
#include "store.h"
#include "store_vms.h"

struct appraise_vm_in {
	const struct vm_rec *vm;	/* its enrolled vTPM and last clock */
	const struct agent_rec *node;	/* the reporting node (active) */
	const char *node_status;	/* its latest status */
	int node_fresh;			/* its last accepted quote is fresh */
	const uint8_t *nonce; size_t nonce_len;	/* the request's nonce */
	/* The answer, as received (hostile). */
	const uint8_t *vquote; size_t vquote_len;	/* TPM2B_ATTEST */
	const uint8_t *vsig; size_t vsig_len;		/* TPMT_SIGNATURE */
	const struct pcrs *vpcrs;			/* reported vTPM PCRs */
	const uint8_t *binding; size_t binding_len;	/* binding wire form */
	const uint8_t *pquote; size_t pquote_len;
	const uint8_t *psig; size_t psig_len;
	X509_STORE *platform_cas;	/* NULL: none configured */
	/* The platform certificate the node's boot measured (PCR 3,
	 * appraise_pse.h); NULL: the node's log has none to compare. */
	const uint8_t *measured_cert; size_t measured_cert_len;
	/* 1: the node's runtime log of its current boot holds the AK
	 * hand-off with its registered AK (appraise_quote_handoff); 0: the
	 * node does not claim the PSE binding, which is then refused. */
	int handoff;
	const struct refvals *guest_refs;	/* NULL: tenant has none */
};

struct appraise_vm_out {
	struct ear guest;	/* the vTPM, its identity and its PCRs */
	struct ear host;	/* the platform: binding, deep quote, node */
	enum ear_tier status;	/* the VM's: worst of both (see .c) */
	int quote_ok;		/* vTPM quote signature and nonce held */
	uint64_t clock;		/* the vTPM quote's clock info (quote_ok) */
	uint32_t reset_count, restart_count;
	int move;		/* accepted from the migration target */
};

/* 0 with *out filled whatever the verdict; each failed check adds a
 * reason naming it. A negative code only for an internal failure. */
int appraise_vm(const struct appraise_vm_in *in, struct appraise_vm_out *out);

/* The VM result as JSON (malloc'd):
 * {"vm": id, "name", "status", "appraised_at",
 *  "guest": {"status", "trustworthiness-vector", "reasons"},
 *  "host": {"node", "hostname", "status", "node_status",
 *           "trustworthiness-vector", "reasons"}} */
int appraise_vm_result_json(const struct appraise_vm_in *in,
    const struct appraise_vm_out *out, int64_t at, char **json);

#endif
