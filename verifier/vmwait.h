/* POST /v1/vms/{id}/attest?wait=SECONDS without a thread per waiter.
 *
 * The answer is a stream (200, application/json): one space at once (JSON
 * allows leading white space), a space every VMWAIT_HEARTBEAT_MS, then -
 * when the request is answered, the wait is over or the server stops - the
 * request as GET /v1/vm-attestations/{id} shows it. In between, the
 * connection is suspended in libmicrohttpd (MHD_suspend_connection): it
 * holds no server thread, so waiting tenants cannot starve agent pushes,
 * whose answers are what the waiters wait for. One hub thread (started
 * with the first waiter) polls the suspended requests' state every
 * VMWAIT_POLL_MS, through the store, so an answer pushed to another
 * verifier on the same store is seen too, and resumes each connection
 * whose request is done, whose wait is over or whose heartbeat is due.
 * A tenant may hold [limits] attest_waits_per_tenant waits at once (429
 * beyond; quota.h). */
#ifndef VIGIL_VMWAIT_H
#define VIGIL_VMWAIT_H

#include <jansson.h>
#include <stdint.h>

#include "http.h"
#include "store_vms.h"

#define VMWAIT_POLL_MS 100
#define VMWAIT_HEARTBEAT_MS 5000

/* Renders the final body of a waiter (a new reference). */
typedef json_t *(*vmwait_render)(const struct vm_attest_req *q);

/* Takes one of tenant's wait slots before the request is queued: 0, or
 * VIGIL_EDENIED with the 429 in resp. */
int vmwait_reserve(struct http_req *req, struct http_resp *resp,
    const char *tenant);
/* Gives back a slot reserve took that no stream took over. */
void vmwait_release(const char *tenant);
/* Makes resp the waiting stream of request req_id; it takes over the
 * tenant's slot (given back when the connection ends). 0, or an error
 * (the slot is then still the caller's). */
int vmwait_stream(struct http_req *req, struct http_resp *resp,
    const char *tenant, int64_t req_id, long wait_s, vmwait_render render);

/* http_start: waits may be opened. */
void vmwait_begin(void);
/* http_stop, before the daemon stops: every waiter is resumed to finish
 * with the request as it stands, none stays suspended, the hub thread
 * ends. New waits are refused until vmwait_begin. */
void vmwait_end(void);
/* Waiters now suspended (for tests). */
unsigned vmwait_suspended(void);

#endif
