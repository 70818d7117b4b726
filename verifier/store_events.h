/* The store's tables for events and webhooks (db/migrations/
 * 0006_events.sql). Same rules as store.h: thread-safe, writes through the
 * writer thread, 0 or a negative VIGIL_E* code; *rows arrays are malloc'd
 * and freed with their *_free (NULL is a no-op). A tenant argument NULL
 * means "operators only" on writes and "every event" on reads. */
#ifndef VIGIL_STORE_EVENTS_H
#define VIGIL_STORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "verifier/store.h"

#define EVENT_KIND_MAX 63
#define EVENT_SUBJECT_MAX 129
#define EVENT_DATA_MAX 8192

struct event_row {
	int64_t id, at;
	char kind[EVENT_KIND_MAX + 1];
	char subject[EVENT_SUBJECT_MAX + 1];
	char tenant[64];		/* "" when for operators only */
	char *data;			/* JSON object text */
};
void event_rows_free(struct event_row *rows, size_t n);

/* Appends an event; data_json must be a JSON object (NULL: {}). *id (may
 * be NULL) gets its id. VIGIL_EINVAL for an empty or oversized field. */
int store_event_add(struct store *s, const char *kind, const char *subject,
    const char *tenant, const char *data_json, int64_t *id);
/* Events with after < id <= upto (upto 0: no bound) in id order, at most
 * limit; tenant NULL: all; otherwise that tenant's only. */
int store_events_after(struct store *s, int64_t after, int64_t upto,
    const char *tenant, size_t limit, struct event_row **rows, size_t *n);
/* The highest event id (0 if none). */
int store_events_max(struct store *s, int64_t *out);

#define WEBHOOK_ID_LEN 32
#define WEBHOOK_URL_MAX 1024
#define WEBHOOK_SECRET_LEN 64

struct webhook_rec {
	char id[WEBHOOK_ID_LEN + 1];
	char tenant[64];		/* "" for an operator's webhook */
	char url[WEBHOOK_URL_MAX + 1];
	char secret[WEBHOOK_SECRET_LEN + 1];
	int64_t created_at;
	int64_t cursor;			/* last event id settled */
	unsigned attempts;		/* failed tries of the next event */
	int64_t next_at_ms;		/* no try before this (unix ms) */
};

/* Adds a webhook; its cursor starts at the current last event (only new
 * events are posted). VIGIL_EEXIST if the id is taken. */
int store_webhook_add(struct store *s, struct webhook_rec *w);
/* Webhooks ordered by id; tenant NULL: all, "" operators' only, else that
 * tenant's. */
int store_webhook_list(struct store *s, const char *tenant,
    struct webhook_rec **rows, size_t *n);
/* Deletes a webhook (and its delivery log) if tenant owns it (tenant NULL:
 * any). VIGIL_ENOTFOUND otherwise. */
int store_webhook_delete(struct store *s, const char *id, const char *tenant);
/* Records one delivery attempt and the webhook's new progress, in one job.
 * outcome: "delivered", "retry" or "gave-up". */
int store_webhook_attempt(struct store *s, const char *id, int64_t event_id,
    unsigned attempt, long http_status, const char *outcome,
    const char *error, int64_t cursor, unsigned attempts, int64_t next_at_ms);

struct delivery_row {
	int64_t id, event_id, at;
	unsigned attempt;
	long http_status;
	char outcome[16];
	char error[256];
};
/* The newest limit attempts of a webhook, newest first; *rows: free(). */
int store_webhook_deliveries(struct store *s, const char *id, size_t limit,
    struct delivery_row **rows, size_t *n);

#endif
