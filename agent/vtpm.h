/* The agent's vTPM manager: one swtpm per VM (what QEMU/libvirt run in
 * production), reached through tpm2-tss with its own swtpm: TCTI, opened
 * per operation like the node's pTPM (agent/tpm.h).
 *
 * A vTPM lives in one directory, DIR = <vtpm root>/<vm id>:
 *   DIR/state/          swtpm state (tpm2-00.permall, ...): what migrates
 *   DIR/tcti            the TCTI of the running swtpm, one line
 *   DIR/swtpm.pid       its pid while it runs
 *   DIR/swtpm.log       its log
 *   DIR/ek.pub          the RSA EK (marshaled TPM2B_PUBLIC)
 *   DIR/ek-cert.der     its certificate, issued by the PSE (also in NV)
 *   DIR/ak.pub          the vTPM's AK (marshaled TPM2B_PUBLIC)
 *   DIR/guest.evlog     the guest's event log of the current boot
 *
 * The vTPM's EK is the RSA-2048 EK swtpm_setup creates at
 * TPM_HANDLE_EK_RSA; its certificate, issued by the local PSE
 * (PSE_ISSUE_EK_CERT, enclave/pse_msg.h), is written to NV
 * TPM_NV_EK_CERT_RSA (platform hierarchy, ppwrite|ppread|ownerread|
 * authread|no_da|platformcreate) so tpm_ek_read finds it like on a node.
 * Its AK is made by tpm_ak_ensure at TPM_HANDLE_AK under that EK.
 *
 * vm_id: 1 .. VTPM_MAX_ID bytes of [A-Za-z0-9._-] (pse_msg_id_valid).
 * Every function returns 0 or a VIGIL_E* code and logs what failed. */
#ifndef VIGIL_AGENT_VTPM_H
#define VIGIL_AGENT_VTPM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "pcrs.h"

#define VTPM_MAX_ID	64u
#define VTPM_MAX_PATH	512u

/* The guest the vTPM "boots": files measured into the vTPM's PCRs. */
struct vtpm_guest {
	const char *firmware;	/* PCR 0: EV_EFI_PLATFORM_FIRMWARE_BLOB */
	const char *kernel;	/* PCR 4: EV_IPL, data = the path */
	const char *cmdline;	/* PCR 8: EV_IPL, data = the string; may be NULL */
};

/* A running or stopped vTPM, as vtpm_status reads it from DIR. */
struct vtpm_status {
	int running;		/* swtpm.pid names a live process */
	pid_t pid;
	char tcti[128];		/* valid when running */
};

/* Creates DIR (must not exist; its parent must) and a vTPM in it:
 * swtpm_setup with an RSA and an ECC EK (no certificates), starts it,
 * reads the RSA EK, has the PSE at pse_socket issue its certificate for
 * vm_id, writes it to NV, creates the AK, writes ek.pub, ek-cert.der and
 * ak.pub, and leaves the vTPM running. On failure DIR is removed again
 * and the swtpm stopped. */
int vtpm_create(const char *vm_id, const char *dir, const char *pse_socket);

/* Starts the vTPM of DIR (a loopback TCP port pair chosen free; the TCTI
 * written to DIR/tcti) and waits until it answers. Already running: 0. */
int vtpm_start(const char *dir);
/* Stops it (swtpm's control channel shutdown, then SIGTERM/SIGKILL by
 * pid after a bound). Not running: 0. */
int vtpm_stop(const char *dir);
int vtpm_status(const char *dir, struct vtpm_status *out);

/* "Boots" the guest: extends the vTPM's PCRs 0, 4 (and 8 with a command
 * line), then EV_SEPARATOR in 0-7, and writes the crypto-agile event log
 * (common/evlog.h) to DIR/guest.evlog. A vTPM boots once per start
 * (VIGIL_EEXIST if its PCR 0 is not zero). */
int vtpm_boot(const char *dir, const struct vtpm_guest *g);

/* TPM2_Quote by the vTPM's AK over the SHA-256 PCRs in mask with
 * extraData = nonce (agent/tpm.h tpm_quote). */
int vtpm_quote(const char *dir, const uint8_t *nonce, size_t nonce_len,
    uint32_t mask, struct buf *attest, struct buf *sig, struct pcrs *vals);

/* A VM attestation for one verifier nonce (DESIGN.md, trust chain step 5):
 * the vTPM quote over vmask with extraData = nonce; the PSE's certified
 * pTPM AK binding (PSE_CERTIFY_AK at pse_socket); and the pTPM quote (the
 * node's AK at ptpm_tcti) over pmask with extraData =
 * binding_deep_quote_data(nonce, vTPM AK name, vm_id). Quotes as
 * agent/tpm.h tpm_quote gives them (marshaled TPM2B_ATTEST, TPMT_SIGNATURE,
 * the PCR values); binding as binding_marshal. Free with
 * vtpm_attestation_free. */
struct vtpm_attestation {
	struct buf v_attest, v_sig;	/* vTPM quote */
	struct pcrs v_vals;
	struct buf binding;
	struct buf p_attest, p_sig;	/* pTPM "deep" quote */
	struct pcrs p_vals;
};

int vtpm_attest(const char *dir, const char *vm_id, const char *pse_socket,
    const char *ptpm_tcti, const uint8_t *nonce, size_t nonce_len,
    uint32_t vmask, uint32_t pmask, struct vtpm_attestation *out);
void vtpm_attestation_free(struct vtpm_attestation *a);

/* The files written at creation: ek.pub, ek-cert.der, ak.pub. */
int vtpm_identity(const char *dir, struct buf *ek_pub, struct buf *ek_cert,
    struct buf *ak_pub);

/* The swtpm state of a STOPPED vTPM (VIGIL_EEXIST while it runs) in the
 * migblob plaintext encoding (enclave/migblob.h migstate_marshal),
 * appended to out. Import writes such a state into DIR/state of a stopped
 * (or new: DIR is created) vTPM, replacing what was there; the identity
 * files are rewritten from the vTPM at its next vtpm_start + vtpm_refresh. */
int vtpm_state_export(const char *dir, struct buf *out);
int vtpm_state_import(const char *dir, const uint8_t *state, size_t len);
/* Rewrites ek.pub, ek-cert.der and ak.pub from the running vTPM (after an
 * import). */
int vtpm_refresh(const char *dir);

/* Migration, the node-local halves (the verifier relays the blob in push
 * replies; that transport is the agent's push loop).
 * Source: stops the vTPM of DIR and seals its state for VM vm_id leaving
 * node source to the target MigE's transport key (DER SPKI, as the
 * target's PSE_MIG_TRANSPORT_KEY gave it and the caller checked with
 * pse_transport_verify); the blob is appended to out. The source keeps its
 * copy until the verifier confirms the VM attested on the target, then
 * calls vtpm_destroy.
 * Target: has the local MigE (pse_socket) open the blob
 * (PSE_MIG_IMPORT; VIGIL_EVERIFY when it refuses), imports the state into
 * DIR (which must not hold a running vTPM), starts it and rewrites its
 * identity files; the local binding the MigE handed over is appended to
 * binding (binding_marshal form). The guest boots again (vtpm_boot):
 * swtpm restarts with TPM2_Startup(CLEAR). */
int vtpm_migrate_out(const char *dir, const char *vm_id, const char *source,
    const uint8_t *target_spki, size_t spki_len, struct buf *out);
int vtpm_migrate_in(const char *dir, const char *vm_id, const char *source,
    const char *pse_socket, const uint8_t *blob, size_t blob_len,
    struct buf *binding);

/* Stops the vTPM and deletes DIR with everything in it (the source's copy
 * after a confirmed migration). */
int vtpm_destroy(const char *dir);

#endif
