/* Who is calling a route that tenants and operators share: the bearer
 * token checked, its role and tenant. Routes registered HTTP_AUTH_NONE
 * call this first. */
#ifndef VIGIL_API_WHO_H
#define VIGIL_API_WHO_H

#include "http.h"

struct api_who {
	int operator;		/* 1: operator token; 0: tenant token */
	char tenant[64];	/* the tenant's name; "" for operators */
};

/* 0 and *w for a valid operator or tenant token; otherwise resp holds
 * 401 (no, bad or revoked token) or 503 (store failure), and the error is
 * returned. */
int api_who(struct http_req *req, struct http_resp *resp, struct api_who *w);
/* A tenant name for the store: NULL for operators (every object). */
const char *api_who_scope(const struct api_who *w);

#endif
