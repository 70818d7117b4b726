/* vigil reference-values from-event-log LOG [LOG...] [--name NAME]: a
 * measured-boot policy from known-good machines' firmware logs
 * (verifier/appraise_boot.h), printed as a reference document. Offline:
 * it needs no verifier. */
#ifndef VIGIL_CLI_BOOTPOL_H
#define VIGIL_CLI_BOOTPOL_H

/* argv[0] is "from-event-log". Exit status: 0, or 2 with a message. */
int cli_bootpol(int argc, char **argv);

#endif
