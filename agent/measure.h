/* `vigil-agent measure`: the measurements Vigil's own services make after
 * boot, into Vigil's runtime log (common/cel.h, CEL-TLV) and the TPM, the
 * same on an emulated node and on a real machine (docs/real-machines.md).
 * Each invocation appends, under an exclusive lock on the log file:
 *
 *   --smm-image F --smm-log-pub F --smm-wrap-pub F   PCR 23, in order:
 *       VIGIL_TAG_SMM_IMAGE (SHA-256 of F), _LOG_PUB, _WRAP_PUB (DER SPKI)
 *   --pse-image F --pse-pubkey F --pse-cert F [--pse-transport-pubkey F]
 *       PCR 23: VIGIL_TAG_PSE_IMAGE, _PLATFORM_PUB, _PLATFORM_CERT,
 *       _TRANSPORT_PUB (DER)
 *   --handoff MSR  PCR 23: VIGIL_TAG_AK_PUBLIC with the MSR's contents
 *       (the AK public area the boot step handed over), once per boot
 *   --cap          PCR 11: VIGIL_TAG_CAP "vigil-cap-v1", once per boot,
 *       after vigil-smmd and vigil-psed unsealed their keys
 *
 * Every event is EV_EVENT_TAG with a TCG_PCClientTaggedEvent as its data
 * and SHA-256 of that data as its digest, so the verifier recomputes it.
 * Key and certificate files may be PEM or DER; the event data is DER. */
#ifndef VIGIL_AGENT_MEASURE_H
#define VIGIL_AGENT_MEASURE_H

/* The subcommand: argv[0] = "measure". 0 on success, 1 on failure, 2 on a
 * usage error. */
int measure_main(int argc, char **argv);

#endif
