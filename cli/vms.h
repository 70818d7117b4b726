/* `vigil vm ...` and `vigil vms` (tenant token):
 *   vigil vm create NAME                 prints the VM id
 *   vigil vm show ID                     the VM: host, status, placements
 *   vigil vm attest ID [--wait SECONDS]  asks for a VM attestation (default
 *                                        wait 30 s); prints the status
 *   vigil vm reference-values put FILE   the tenant's guest reference values
 *   vigil vms                            the tenant's VMs
 * Exit status 0, or 2 on an error (a VM attestation that is not
 * `affirming` exits 1). */
#ifndef VIGIL_CLI_VMS_H
#define VIGIL_CLI_VMS_H

#include "cli/http.h"

/* cmd: "vm" or "vms"; argv[0 .. argc) the arguments after it. */
int cli_vm(const struct cli_ctx *c, const char *cmd, int argc, char **argv);

#endif
