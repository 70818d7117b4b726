/* Per-tenant counts of requests under way (see quota.h). A short list:
 * an entry exists only while its tenant holds a slot. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "quota.h"

struct quota_ent {
	struct quota_ent *next;
	enum quota_kind kind;
	unsigned n;
	char tenant[64];
};

static pthread_mutex_t quota_mu = PTHREAD_MUTEX_INITIALIZER;
static struct quota_ent *quota_list;

/* With quota_mu held. */
static struct quota_ent **
quota_find(enum quota_kind k, const char *tenant)
{
	struct quota_ent **p;

	for (p = &quota_list; *p != NULL; p = &(*p)->next)
		if ((*p)->kind == k && strcmp((*p)->tenant, tenant) == 0)
			break;
	return p;
}

int
quota_take(enum quota_kind k, const char *tenant, unsigned limit,
    unsigned *held)
{
	struct quota_ent **p, *q;
	int e = 0;

	pthread_mutex_lock(&quota_mu);
	p = quota_find(k, tenant);
	if ((q = *p) != NULL && limit > 0 && q->n >= limit) {
		if (held != NULL)
			*held = q->n;
		e = VIGIL_EDENIED;
	} else if (q != NULL) {
		q->n++;
	} else if ((q = calloc(1, sizeof(*q))) == NULL) {
		e = VIGIL_ENOMEM;
	} else {
		q->kind = k;
		q->n = 1;
		snprintf(q->tenant, sizeof(q->tenant), "%s", tenant);
		*p = q;
	}
	pthread_mutex_unlock(&quota_mu);
	return e;
}

void
quota_put(enum quota_kind k, const char *tenant)
{
	struct quota_ent **p, *q;

	pthread_mutex_lock(&quota_mu);
	p = quota_find(k, tenant);
	if ((q = *p) != NULL && --q->n == 0) {
		*p = q->next;
		free(q);
	}
	pthread_mutex_unlock(&quota_mu);
}

unsigned
quota_held(enum quota_kind k, const char *tenant)
{
	struct quota_ent *q;
	unsigned n;

	pthread_mutex_lock(&quota_mu);
	q = *quota_find(k, tenant);
	n = q != NULL ? q->n : 0;
	pthread_mutex_unlock(&quota_mu);
	return n;
}
