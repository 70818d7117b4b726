/* The agent's HTTP client to the verifier (libcurl): one handle kept for
 * HTTP keep-alive, protobuf bodies (application/x-protobuf), bounded
 * timeouts, responses over PUSH_MAX_RESPONSE refused. With an https://
 * verifier and a client certificate set, the agent authenticates by mTLS. */
#ifndef VIGIL_AGENT_PUSH_H
#define VIGIL_AGENT_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PUSH_MAX_RESPONSE	(1024u * 1024)
#define PUSH_MAX_REQUEST	(4u * 1024 * 1024)
#define PUSH_CONNECT_TIMEOUT_S	5
#define PUSH_TIMEOUT_S		30

struct push;

struct push_reply {
	long status;			/* HTTP status code */
	struct buf body;
	int is_problem;			/* application/problem+json */
	char problem_type[256];		/* "" unless is_problem */
	char problem_detail[512];	/* "" unless is_problem */
};

/* base_url: "http://host:port" (a trailing slash is ignored). */
int push_new(const char *base_url, struct push **out);
/* NULL is a no-op. */
void push_free(struct push *p);
/* PEM client certificate and key for mTLS (https only). */
int push_set_client_cert(struct push *p, const char *cert_path,
    const char *key_path);
/* PEM file of the CA(s) that certify the verifier's HTTPS certificate
 * ([agent] verifier_ca); without it the system's trust store is used. */
int push_set_ca(struct push *p, const char *ca_path);
/* POSTs body to base_url + path. Returns 0 once any HTTP response came
 * (check out->status), VIGIL_ENET if the verifier could not be reached
 * or the transfer failed, VIGIL_ETOOBIG if the response was over the
 * limit. Free out with push_reply_free. */
int push_post(struct push *p, const char *path, const uint8_t *body,
    size_t len, struct push_reply *out);
void push_reply_free(struct push_reply *r);

/* "type: detail" or "HTTP 503" for log lines. */
void push_reply_describe(const struct push_reply *r, char *out, size_t cap);

#endif
