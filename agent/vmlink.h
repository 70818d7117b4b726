/* The agent's VM exchange with the verifier (docs/pse.md, DESIGN.md trust
 * chain step 5), beside the local vTPM manager (agent/vtpm.h):
 *
 *  - in the push loop, vmlink_deliver does the VM work of an EvidenceReply:
 *    imports migration blobs through the local MigE (PSE_MIG_IMPORT) and
 *    starts their vTPMs, answers attestation requests (vtpm_attest ->
 *    an ITEM_VM_ATTESTATION spool item), and deletes the vTPMs of VMs
 *    whose migration away from this node the verifier confirmed;
 *  - for `vigil-agent vm start|migrate` (agent/vm.c), which run beside the
 *    agent and use its identity (its config, state_dir, mTLS certificate):
 *    vmlink_enrol enrols a vTPM (POST /v1/agents/{id}/vtpms, credential
 *    activation in the vTPM, POST .../vtpms/activate); vmlink_migrate seals
 *    the stopped vTPM's state to the target MigE and hands it over.
 *
 * The vTPM root and the PSE socket come from $VIGIL_VTPM_DIR and
 * $VIGIL_PSE_SOCKET (defaults as agent/vm.c); the agent config of the
 * `vm` commands from --config or $VIGIL_AGENT_CONFIG. */
#ifndef VIGIL_AGENT_VMLINK_H
#define VIGIL_AGENT_VMLINK_H

#include "config.h"
#include "spool.h"
#include "vigil.pb-c.h"
#include "vtpm.h"

/* PCRs of a VM attestation: the vTPM's guest PCRs, the pTPM's policy. */
#define VMLINK_VTPM_MASK	0x01ffu		/* 0-8 */

/* The guest spec kept with the vTPM's state so that it migrates with it:
 * DIR/state/VMLINK_GUEST_FILE, lines "firmware PATH", "kernel PATH",
 * "cmdline STRING". After an import the guest boots again from it. */
#define VMLINK_GUEST_FILE	"vigil-guest.spec"

const char *vmlink_vtpm_root(void);
const char *vmlink_pse_socket(void);

/* Push loop: the VM work of one reply (errors are logged per VM; the
 * loop goes on). Returns the number of attestations spooled: the agent
 * pushes again at once rather than after its interval. */
int vmlink_deliver(const struct agent_config *cfg, struct spool *spool,
    const char *agent_id, const Vigil__EvidenceReply *r);

/* Records the guest spec in DIR/state (g->firmware != NULL). */
int vmlink_guest_save(const char *dir, const struct vtpm_guest *g);

/* `vm start` with an agent config: enrols the running vTPM of DIR for
 * vm_id through the verifier; returns once enrolled. */
int vmlink_enrol(const char *config_path, const char *vm_id, const char *dir,
    const char *pse_socket);

/* `vm migrate VMID --to NODE`: learns NODE's MigE key through the
 * verifier, stops the vTPM, seals its state, hands it over, and waits
 * (at most timeout_s) until the verifier confirmed the VM on the target
 * and the push loop deleted the local copy. On a failure before the
 * hand-over the vTPM is started again here. */
int vmlink_migrate(const char *config_path, const char *vm_id,
    const char *dir, const char *target, unsigned timeout_s);

#endif
