/* Events: the durable event table (store_events.h) and who is told about
 * new rows: GET /v1/events streams (server-sent events) and the webhook
 * deliverer (webhooks.h).
 *
 * Node status changes are recorded by the store itself, in the same
 * transaction as the appraisal that changed the status (a trigger of
 * db/migrations/0006_events.sql: kind "node.status", subject the agent id,
 * tenant NULL, data {"status", "previous", "reasons"}), so no path that
 * stores an appraisal (evidence pushes, the freshness sweep) can forget
 * one. Everything else calls events_emit.
 *
 * SSE streams do not hold the request thread pool: an idle stream is a
 * suspended libmicrohttpd connection (MHD_ALLOW_SUSPEND_RESUME), resumed
 * by the hub's thread when an event it may see arrives or its heartbeat is
 * due. The hub is process-wide. */
#ifndef VIGIL_EVBUS_H
#define VIGIL_EVBUS_H

#include <stdint.h>

#include "config.h"
#include "http.h"
#include "store.h"
#include "store_events.h"

/* Records an event (tenant NULL: for operators only; otherwise also for
 * that tenant; data_json a JSON object or NULL) and wakes its listeners.
 * Kinds used: node.status (the store's trigger), replay.result,
 * smm.refusal, smm.migration. */
int events_emit(struct store *s, const char *kind, const char *subject,
    const char *tenant, const char *data_json);

/* Starts the hub's thread on this store with [events] of cfg. Only one
 * hub runs at a time: VIGIL_EEXIST if started. */
int evbus_start(struct store *s, const struct vconfig *cfg);
/* Ends every stream and stops the thread (http_stop calls it before it
 * stops the daemon: no connection may stay suspended). Idempotent. */
void evbus_stop(void);
/* Ends every stream (they finish their current event) and refuses new
 * ones; the thread keeps running for evbus_wait callers. */
void evbus_end_streams(void);
/* Waits until the newest event id is above seen or timeout_ms passed (or
 * the hub stops); returns the newest id known. */
int64_t evbus_wait(int64_t seen, unsigned timeout_ms);
/* Streams now open (for /metrics and tests). */
unsigned evbus_streams(void);

/* An event as compact JSON {"id", "at" (RFC 3339), "kind", "subject",
 * "tenant" (null: operators only), "data"}: the SSE data line and the
 * webhook body. *out malloc'd. */
int evbus_event_json(const struct event_row *ev, char **out);

/* GET /v1/events: text/event-stream, resumable with Last-Event-ID or
 * ?after=ID; operators see every event, tenants their own. */
int routes_events_get(struct http_req *req, struct http_resp *resp);

#endif
