/* The agents' CA: issues each agent's mTLS client certificate from the
 * PKCS#10 request sent at activation (CN = agent id, one year). */
#ifndef VIGIL_AGENTCA_H
#define VIGIL_AGENTCA_H

#include <stddef.h>
#include <stdint.h>

struct agentca;

int agentca_load(const char *cert_pem, const char *key_pem,
    struct agentca **out);
void agentca_free(struct agentca *ca);
/* Verifies the CSR's self-signature and issues a certificate for its key
 * (DER, malloc'd). The subject is CN=agent_id whatever the CSR asks.
 * VIGIL_EINVAL (logged) for a malformed or badly signed CSR. */
int agentca_issue(struct agentca *ca, const uint8_t *csr_der, size_t len,
    const char *agent_id, uint8_t **der, size_t *der_len);

#endif
