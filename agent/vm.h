/* `vigil-agent vm start|stop|list`: the node's VMs and their vTPMs
 * (agent/vtpm.h), the local part. Enrolment of a vTPM through the
 * verifier (POST /v1/agents/{id}/vtpms...) and migration (`vm migrate`,
 * through push replies) are not here yet: they belong to the agent's push
 * loop (issue 4, integration). */
#ifndef VIGIL_AGENT_VM_H
#define VIGIL_AGENT_VM_H

/* argv[0] = "vm". Returns the process exit status: 0 success, 1 failure,
 * 2 usage error. */
int vm_main(int argc, char **argv);

#endif
