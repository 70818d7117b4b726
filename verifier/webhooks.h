/* Webhooks (GET, PUT, DELETE /v1/webhooks): events posted to http(s)
 * URLs. An operator's webhook gets every event, a tenant's only that
 * tenant's. Each body (the event as GET /v1/events sends it) is signed:
 *   X-Vigil-Timestamp: UNIX SECONDS
 *   X-Vigil-Signature: sha256=HEX(HMAC-SHA256(secret, TIMESTAMP "." BODY))
 * with the secret answered once, at creation. One delivery thread posts
 * each webhook's events in order; a failed attempt (no answer, or not 2xx)
 * is retried after [webhooks] retry_base_ms, doubled each time up to
 * retry_max_ms, and given up after max_attempts; every attempt is logged
 * in webhook_deliveries (shown by GET /v1/webhooks). Targets resolving to
 * private, loopback, link-local or otherwise non-public addresses are
 * refused at creation and again at each connection unless [webhooks]
 * allow_private = yes. */
#ifndef VIGIL_WEBHOOKS_H
#define VIGIL_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "http.h"
#include "store.h"

#define WEBHOOKS_SIG_LEN 71	/* "sha256=" + 64 hex */

/* Starts the delivery thread. */
int webhooks_start(struct store *s, const struct vconfig *cfg);
/* Stops and joins it (an attempt under way finishes). Idempotent. */
void webhooks_stop(void);

/* 0 if url is an http(s) URL, at most 1024 bytes, without credentials,
 * whose host resolves, only to public addresses unless allow_private.
 * Otherwise VIGIL_EINVAL (malformed), VIGIL_ENOTFOUND (does not resolve)
 * or VIGIL_EDENIED (a non-public address), with the reason in why. */
int webhooks_url_check(const char *url, int allow_private, char *why,
    size_t cap);
/* 1 if the address is not a public unicast one (loopback, RFC 1918,
 * link-local, CGNAT, unique-local, multicast, unspecified), also when it
 * is an IPv6 form embedding such an IPv4 address (IPv4-mapped,
 * -compatible, -translated, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo
 * 2001::/32 by its server or its client address). */
int webhooks_addr_private(const struct sockaddr *sa);
/* The same; for an embedding form, why names it and the IPv4 address
 * ("a 6to4 address embedding 127.0.0.1"); otherwise why is empty. */
int webhooks_addr_why(const struct sockaddr *sa, char *why, size_t cap);
/* The X-Vigil-Signature value of body at timestamp ts. */
int webhooks_sign(const char *secret, int64_t ts, const char *body,
    size_t len, char out[WEBHOOKS_SIG_LEN + 1]);

int routes_webhooks_get(struct http_req *req, struct http_resp *resp);
int routes_webhooks_put(struct http_req *req, struct http_resp *resp);
int routes_webhooks_delete(struct http_req *req, struct http_resp *resp);

#endif
