/* VM routes (routes_vms.h): tenant VMs and their attestation, guest
 * reference values, vTPM enrolment by agents, migration hand-over, and
 * the VM part of the push exchange (DESIGN.md trust chain step 5). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "api_who.h"
#include "appraise_pse.h"
#include "appraise_quote.h"
#include "appraise_vm.h"
#include "cel.h"
#include "ear.h"
#include "enclave/binding.h"
#include "enclave/pse_events.h"
#include "err.h"
#include "evbus.h"
#include "evlog.h"
#include "log.h"
#include "makecred.h"
#include "node_status.h"
#include "refvals.h"
#include "routes_vms.h"
#include "store_vms.h"
#include "tpm_parse.h"
#include "vmwait.h"

#define VMS_SECRET_LEN 32
#define VMS_MAX_PUBLIC 1024
#define VMS_MAX_CERT 8192
#define VMS_MAX_BINDING 40000
#define VMS_MAX_QUOTE 2048
#define VMS_MAX_SIG 1024
#define VMS_MAX_BLOB (2u * 1024 * 1024)
#define VMS_ATTEST_TTL 120		/* seconds a request stays open */
#define VMS_WAIT_MAX 120		/* ?wait= bound */
#define VMS_REPLY_REQS 16		/* attestation requests per reply */
#define VMS_RELEASE_WINDOW 3600		/* seconds a release is repeated */

/* ---- helpers ---- */

/* 1 if id can name an agent (1 .. 64 characters). */
static int
vms_node_id_ok(const char *id)
{
	return id != NULL && id[0] != '\0' && strnlen(id, 65) <= 64;
}

static int
vms_store_error(struct http_resp *resp, const char *what, int e)
{
	log_err("vms: %s failed: %s", what, vigil_strerror(e));
	return http_problem(resp, 503, "store", "Store unavailable",
	    "%s failed: %s", what, vigil_strerror(e));
}

static int
vms_bad(struct http_resp *resp, const char *route, const char *what)
{
	log_warn("%s: refused: %s", route, what);
	return http_problem(resp, 400, "bad-request", "Bad request", "%s",
	    what);
}

static int
vms_not_found(struct http_resp *resp, const char *id)
{
	return http_problem(resp, 404, "not-found", "Not found",
	    "no VM %.40s", id);
}

/* Trusted platform vendor CAs ([attestation] platform_ca); NULL (and 0)
 * when none is configured. */
static int
vms_platform_cas(struct vctx *vc, X509_STORE **out)
{
	const char *path = vc->cfg->platform_ca;

	*out = NULL;
	if (path[0] == '\0')
		return 0;
	return binding_store_load(&path, 1, out);
}

static const char *
vms_vtpm_state_name(enum vm_vtpm_state s)
{
	switch (s) {
	case VM_VTPM_PENDING:
		return "pending";
	case VM_VTPM_ENROLLED:
		return "enrolled";
	default:
		return "none";
	}
}

/* The node's status now (node_status.h: "none" when it has none or is
 * stale). */
static void
vms_node_status(struct vctx *vc, const char *node, char out[24])
{
	struct node_status ns;

	if (node_status_now(vc->store, vc->cfg, node, (int64_t)time(NULL),
	    &ns) != 0)
		log_warn("vms: reading the status of node %s failed", node);
	snprintf(out, 24, "%s", ns.status);
}

/* The VM of {id} as the caller may see it: 404 for another tenant's. */
static int
vms_visible(struct http_req *req, struct http_resp *resp,
    const struct api_who *w, struct vm_rec *vm)
{
	int e;

	e = store_vm_get(req->vc->store, req->id, api_who_scope(w), vm);
	if (e == VIGIL_ENOTFOUND) {
		vms_not_found(resp, req->id);
		return e;
	}
	if (e != 0)
		vms_store_error(resp, "reading the VM", e);
	return e;
}

static json_t *
vms_summary(struct vctx *vc, const struct vm_rec *vm, const char *host_status)
{
	char at[32];

	http_time(vm->created_at, at);
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s}", "id",
	    vm->id, "name", vm->name, "tenant", vm->tenant, "created_at", at,
	    "host_node", vm->host_node[0] != '\0' ?
	    json_string(vm->host_node) : json_null(), "vtpm",
	    vms_vtpm_state_name(vm->vtpm_state), "status",
	    node_status_vm(vm->status, host_status), "host_status",
	    host_status);
}

/* ---- tenant routes ---- */

int
routes_vms_create(struct http_req *req, struct http_resp *resp)
{
	struct api_who w;
	json_t *body = NULL, *o;
	const char *name;
	char id[VM_ID_LEN + 1];
	int e;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (w.operator) {
		http_problem(resp, 403, "forbidden", "Forbidden",
		    "a VM belongs to a tenant: use a tenant token");
		return 0;
	}
	body = json_loadb((const char *)req->body, req->body_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (body == NULL || !json_is_object(body) ||
	    json_object_size(body) != 1 ||
	    (name = json_string_value(json_object_get(body, "name"))) ==
	    NULL || !store_vm_name_ok(name)) {
		vms_bad(resp, "vms", "body must be {\"name\": NAME} with NAME "
		    "1-64 characters of [A-Za-z0-9._-]");
		goto out;
	}
	e = store_vm_create(req->vc->store, w.tenant, name, id);
	if (e == VIGIL_EEXIST) {
		http_problem(resp, 409, "exists", "VM exists",
		    "tenant %s already has a VM named %s", w.tenant, name);
		goto out;
	}
	if (e != 0) {
		vms_store_error(resp, "creating the VM", e);
		goto out;
	}
	http_audit(req, "vm.create", id, "name=%s", name);
	log_info("vms: tenant=%s created vm=%s name=%s", w.tenant, id, name);
	o = json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "tenant",
	    w.tenant);
	http_json(resp, 201, o);
 out:
	json_decref(body);
	return 0;
}

#define VMS_PAGE_DEFAULT 100
#define VMS_PAGE_MAX 500

static const char *
vms_row_id(const void *rows, size_t i)
{
	return ((const struct vm_row *)rows)[i].id;
}

int
routes_vms_list(struct http_req *req, struct http_resp *resp)
{
	struct vm_row *rows = NULL;
	struct api_who w;
	json_t *arr, *o;
	char at[32], hs[24];
	const char *cursor;
	size_t n = 0, i, limit, first, count;
	int e, more;

	if (api_who(req, resp, &w) != 0 || http_page_args(req, resp,
	    VMS_PAGE_DEFAULT, VMS_PAGE_MAX, &limit, &cursor) != 0)
		return 0;
	if ((e = store_vm_list(req->vc->store, api_who_scope(&w), &rows,
	    &n)) != 0)
		return vms_store_error(resp, "listing VMs", e);
	http_page_take(n, vms_row_id, rows, cursor, limit, &first, &count,
	    &more);
	arr = json_array();
	for (i = first; i < first + count; i++) {
		http_time(rows[i].created_at, at);
		vms_node_status(req->vc, rows[i].host_node, hs);
		o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "id",
		    rows[i].id, "name", rows[i].name, "tenant",
		    rows[i].tenant, "host_node", rows[i].host_node[0] ?
		    json_string(rows[i].host_node) : json_null(), "status",
		    node_status_vm(rows[i].status, hs), "created_at", at);
		json_array_append_new(arr, o);
	}
	o = more ? json_string(rows[first + count - 1].id) : json_null();
	free(rows);
	return http_json(resp, 200, json_pack("{s:o, s:o}", "vms", arr,
	    "next_cursor", o));
}

int
routes_vms_get(struct http_req *req, struct http_resp *resp)
{
	struct vm_placement *pl = NULL;
	struct vm_migration mig;
	struct api_who w;
	struct vm_rec vm;
	json_t *o, *arr, *res;
	char at[32], hs[24];
	size_t n = 0, i;
	int e;

	memset(&vm, 0, sizeof(vm));
	if (api_who(req, resp, &w) != 0 || vms_visible(req, resp, &w,
	    &vm) != 0)
		return 0;
	vms_node_status(req->vc, vm.host_node, hs);
	if ((e = store_vm_placements(req->vc->store, vm.id, &pl, &n)) != 0) {
		vms_store_error(resp, "reading placements", e);
		goto out;
	}
	o = vms_summary(req->vc, &vm, hs);
	arr = json_array();
	for (i = 0; i < n; i++) {
		http_time(pl[i].at, at);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
		    "node", pl[i].node_id, "event", pl[i].event, "at", at));
	}
	json_object_set_new(o, "placements", arr);
	res = vm.result_json != NULL ? json_loads(vm.result_json, 0, NULL) :
	    NULL;
	json_object_set_new(o, "result", res != NULL ? res : json_null());
	if (vm.last_appraisal_at > 0) {
		http_time(vm.last_appraisal_at, at);
		json_object_set_new(o, "last_appraisal_at", json_string(at));
	}
	if (store_vm_migration_last(req->vc->store, vm.id, &mig) == 0)
		json_object_set_new(o, "migration", json_pack("{s:s, s:s, "
		    "s:s}", "source", mig.source_node, "target",
		    mig.target_node, "state", mig.state == 2 ? "confirmed" :
		    mig.state == 1 ? "delivered" : "queued"));
	http_json(resp, 200, o);
 out:
	free(pl);
	vm_rec_free(&vm);
	return 0;
}

static json_t *
vms_request_json(const struct vm_attest_req *q)
{
	json_t *o, *res;
	char at[32];

	http_time(q->created_at, at);
	o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "request",
	    (json_int_t)q->id, "vm", q->vm_id, "node", q->node_id,
	    "created_at", at, "state", q->done ? "done" :
	    (q->expires_at <= (int64_t)time(NULL) ? "expired" : "pending"));
	if (q->done) {
		json_object_set_new(o, "status", json_string(q->status));
		res = q->result_json != NULL ? json_loads(q->result_json, 0,
		    NULL) : NULL;
		json_object_set_new(o, "result", res != NULL ? res :
		    json_null());
	}
	return o;
}

/* ?wait=SECONDS: a stream of the request, on a suspended connection that
 * holds no server thread (vmwait.h). */

int
routes_vms_attest(struct http_req *req, struct http_resp *resp)
{
	struct vm_attest_req q;
	struct api_who w;
	struct vm_rec vm;
	const char *ws;
	char *end;
	long wait = 0;
	int e;

	memset(&vm, 0, sizeof(vm));
	memset(&q, 0, sizeof(q));
	if (api_who(req, resp, &w) != 0)
		return 0;
	if (w.operator) {
		http_problem(resp, 403, "forbidden", "Forbidden",
		    "only the VM's tenant asks for its attestation");
		return 0;
	}
	if (vms_visible(req, resp, &w, &vm) != 0)
		return 0;
	if ((ws = http_query(req, "wait")) != NULL) {
		errno = 0;
		wait = strtol(ws, &end, 10);
		if (errno != 0 || end == ws || *end != '\0' || wait < 0 ||
		    wait > VMS_WAIT_MAX) {
			vms_bad(resp, "vms attest", "wait must be 0-120 "
			    "seconds");
			goto out;
		}
	}
	if (vm.vtpm_state != VM_VTPM_ENROLLED || vm.host_node[0] == '\0') {
		http_problem(resp, 409, "not-running", "VM not running",
		    "VM %s has no enrolled vTPM on a node; start it with "
		    "`vigil-agent vm start %s`", vm.id, vm.id);
		goto out;
	}
	/* The tenant's wait slot first: a refused wait queues nothing. */
	if (wait > 0 && vmwait_reserve(req, resp, w.tenant) != 0)
		goto out;
	/* A migration under way: ask the target, where the VM now runs. */
	if ((e = store_vm_attest_add(req->vc->store, vm.id,
	    vm.migrate_to[0] != '\0' ? vm.migrate_to : vm.host_node,
	    VMS_ATTEST_TTL, &q)) != 0) {
		if (wait > 0)
			vmwait_release(w.tenant);
		vms_store_error(resp, "queueing the attestation", e);
		goto out;
	}
	log_info("vms: tenant=%s vm=%s attestation request %lld to node "
	    "%.16s", w.tenant, vm.id, (long long)q.id, q.node_id);
	if (wait > 0 && vmwait_stream(req, resp, w.tenant, q.id, wait,
	    vms_request_json) != 0) {
		vmwait_release(w.tenant);
		wait = 0;
	}
	if (wait == 0)
		http_json(resp, 202, vms_request_json(&q));
 out:
	vm_rec_free(&vm);
	return 0;
}

/* GET /v1/vm-attestations/{id}: one request, to its VM's tenant. */
int
routes_vms_attestation_get(struct http_req *req, struct http_resp *resp)
{
	struct vm_attest_req q;
	struct api_who w;
	struct vm_rec vm;
	char *end;
	long long id;
	int e;

	if (api_who(req, resp, &w) != 0)
		return 0;
	errno = 0;
	id = strtoll(req->id, &end, 10);
	if (errno != 0 || end == req->id || *end != '\0' || id <= 0)
		return http_problem(resp, 404, "not-found", "Not found",
		    "no attestation request %.40s", req->id);
	e = store_vm_attest_get(req->vc->store, id, &q);
	if (e == 0) {
		e = store_vm_get(req->vc->store, q.vm_id, api_who_scope(&w),
		    &vm);
		if (e == 0)
			vm_rec_free(&vm);
	}
	if (e == VIGIL_ENOTFOUND) {
		if (q.vm_id[0] != '\0')
			vm_attest_req_clear(&q);
		return http_problem(resp, 404, "not-found", "Not found",
		    "no attestation request %.40s", req->id);
	}
	if (e != 0) {
		vm_attest_req_clear(&q);
		return vms_store_error(resp, "reading the request", e);
	}
	e = http_json(resp, 200, vms_request_json(&q));
	vm_attest_req_clear(&q);
	return e;
}

int
routes_vms_refvals_get(struct http_req *req, struct http_resp *resp)
{
	struct api_who w;
	json_t *doc;
	char *s = NULL;
	int64_t version = 0;
	int e;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (w.operator)
		return http_problem(resp, 403, "forbidden", "Forbidden",
		    "guest reference values belong to a tenant");
	e = store_vm_refvals_get(req->vc->store, w.tenant, &s, &version);
	if (e == VIGIL_ENOTFOUND)
		return http_problem(resp, 404, "not-found", "Not found",
		    "tenant %s has no guest reference values", w.tenant);
	if (e != 0)
		return vms_store_error(resp, "reading guest reference values",
		    e);
	doc = json_loads(s, 0, NULL);
	free(s);
	return http_json(resp, 200, json_pack("{s:I, s:o}", "version",
	    (json_int_t)version, "document", doc != NULL ? doc :
	    json_null()));
}

int
routes_vms_refvals_put(struct http_req *req, struct http_resp *resp)
{
	struct refvals *r = NULL;
	struct api_who w;
	char why[200], *doc;
	int64_t version = 0;
	int e;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (w.operator)
		return http_problem(resp, 403, "forbidden", "Forbidden",
		    "guest reference values belong to a tenant");
	if (req->body_len == 0 || req->body_len > REFVALS_MAX_DOC ||
	    memchr(req->body, '\0', req->body_len) != NULL)
		return vms_bad(resp, "guest-reference-values", "body must be "
		    "a JSON document of at most 64 KiB");
	why[0] = '\0';
	if (refvals_parse((const char *)req->body, req->body_len, &r, why,
	    sizeof(why)) != 0)
		return http_problem(resp, 400, "bad-request", "Bad request",
		    "guest reference values: %s", why);
	refvals_free(r);
	if ((doc = malloc(req->body_len + 1)) == NULL)
		return VIGIL_ENOMEM;
	memcpy(doc, req->body, req->body_len);
	doc[req->body_len] = '\0';
	e = store_vm_refvals_put(req->vc->store, w.tenant, doc, w.tenant,
	    &version);
	free(doc);
	if (e != 0)
		return vms_store_error(resp, "storing guest reference values",
		    e);
	http_audit(req, "guest-reference-values.put", w.tenant, "version=%lld",
	    (long long)version);
	return http_json(resp, 200, json_pack("{s:I}", "version",
	    (json_int_t)version));
}

/* ---- the MigE transport key of a node ---- */

/* The node's stored runtime log of its current boot (the quoted one),
 * parsed: *raw (malloc'd) must outlive *log. VIGIL_ENOTFOUND when there
 * is none or it does not parse. */
static int
vms_runtime_log(struct vctx *vc, const char *node, uint8_t **raw,
    struct evlog **log)
{
	struct quote_state qs;
	size_t rawlen = 0;
	char why[200];
	int e;

	*raw = NULL;
	*log = NULL;
	if ((e = store_quote_state_get(vc->store, node, &qs)) != 0 ||
	    (e = store_evlog_get(vc->store, node,
	    VIGIL__EVENT_LOG_ID__LOG_RUNTIME, qs.reset_count, raw,
	    &rawlen)) != 0)
		return e;
	if (rawlen == 0 || cel_parse(*raw, rawlen, log, why,
	    sizeof(why)) != 0) {
		free(*raw);
		*raw = NULL;
		return VIGIL_ENOTFOUND;
	}
	return 0;
}

/* 1 when the node's runtime log of its current boot holds the AK
 * hand-off event with its registered AK (appraise_quote_handoff). */
static int
vms_handoff(struct vctx *vc, const struct agent_rec *a)
{
	struct evlog *log = NULL;
	uint8_t *raw = NULL;
	char why[200];
	int found = 0;

	if (vms_runtime_log(vc, a->id, &raw, &log) == 0 &&
	    appraise_quote_handoff(log, a, &found, why, sizeof(why)) != 0)
		found = 0;
	evlog_free(log);
	free(raw);
	return found;
}

/* A copy of one PSE datum (which: VIGIL_TAG_PSE_TRANSPORT_PUB or
 * VIGIL_TAG_PSE_PLATFORM_CERT) from the node's stored runtime log of its
 * current boot, recomputed by appraise_pse_events. *out malloc'd;
 * VIGIL_ENOTFOUND when the log has none. */
static int
vms_pse_datum(struct vctx *vc, const char *node, uint32_t which,
    uint8_t **out, size_t *len)
{
	struct pse_boot pb;
	struct evlog *log = NULL;
	uint8_t *raw = NULL;
	const uint8_t *p = NULL;
	char why[200];
	size_t n = 0;
	int e;

	*out = NULL;
	*len = 0;
	if ((e = vms_runtime_log(vc, node, &raw, &log)) != 0)
		return e;
	e = VIGIL_ENOTFOUND;
	if (appraise_pse_events(log, &pb, why, sizeof(why)) != 0 ||
	    !pb.present)
		goto out;
	if (which == VIGIL_TAG_PSE_TRANSPORT_PUB) {
		p = pb.transport_pub;
		n = pb.transport_pub_len;
	} else {
		p = pb.cert;
		n = pb.cert_len;
	}
	if (p == NULL || n == 0)
		goto out;
	if ((*out = malloc(n)) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	memcpy(*out, p, n);
	*len = n;
	e = 0;
 out:
	evlog_free(log);
	free(raw);
	return e;
}

/* The MigE transport key of an affirming node: its event log replayed to
 * its quoted PCRs, so the key is the one measured at boot. */
static int
vms_mige_key(struct vctx *vc, const char *node, uint8_t **out,
    size_t *len, const char **why)
{
	char st[24];
	int e;

	*out = NULL;
	*len = 0;
	vms_node_status(vc, node, st);
	if (strcmp(st, "affirming") != 0) {
		*why = "the target node is not affirming";
		return VIGIL_EDENIED;
	}
	e = vms_pse_datum(vc, node, VIGIL_TAG_PSE_TRANSPORT_PUB, out, len);
	if (e != 0)
		*why = "the target's event log has no MigE transport key "
		    "(PCR 23)";
	return e;
}

/* A migration target by agent id, or by host name: only an active node,
 * and a host name only when exactly one active node holds it (host names
 * are the agents' own word and not unique). 0 with *out; VIGIL_ENOTFOUND
 * or VIGIL_EEXIST (ambiguous) with the reason in why. */
static int
vms_find_node(struct vctx *vc, const char *name, struct agent_rec *out,
    char *why, size_t whylen)
{
	char ids[2][65];
	size_t n = 0;
	int e;

	memset(out, 0, sizeof(*out));
	if (vms_node_id_ok(name) && (e = store_agent_get(vc->store, name,
	    out)) != VIGIL_ENOTFOUND) {
		if (e == 0 && out->state != AGENT_ACTIVE) {
			agent_rec_free(out);
			snprintf(why, whylen, "node %.64s has not completed "
			    "credential activation", name);
			return VIGIL_ENOTFOUND;
		}
		if (e != 0)
			snprintf(why, whylen, "reading node %.64s: %s", name,
			    vigil_strerror(e));
		return e;
	}
	if ((e = store_agents_by_hostname(vc->store, name, ids, 2, &n)) !=
	    0) {
		snprintf(why, whylen, "looking up host name %.70s: %s", name,
		    vigil_strerror(e));
		return e;
	}
	if (n == 0) {
		snprintf(why, whylen, "no active node %.70s", name);
		return VIGIL_ENOTFOUND;
	}
	if (n > 1) {
		log_warn("vms: host name %.70s is held by more than one active "
		    "node (%s, %s, ...): refused", name, ids[0], ids[1]);
		snprintf(why, whylen, "host name %.70s is ambiguous: active "
		    "nodes %s and %s (at least) both report it; name the "
		    "target node by its id", name, ids[0], ids[1]);
		return VIGIL_EEXIST;
	}
	if ((e = store_agent_get(vc->store, ids[0], out)) != 0)
		snprintf(why, whylen, "reading node %s: %s", ids[0],
		    vigil_strerror(e));
	return e;
}

/* The problem of a failed vms_find_node. */
static void
vms_find_problem(struct http_resp *resp, int e, const char *why)
{
	if (e == VIGIL_EEXIST)
		http_problem(resp, 409, "ambiguous-node", "Ambiguous node",
		    "%s", why);
	else if (e == VIGIL_ENOTFOUND)
		http_problem(resp, 404, "unknown-agent", "Unknown node", "%s",
		    why);
	else
		vms_store_error(resp, why, e);
}

int
routes_nodes_mige_key(struct http_req *req, struct http_resp *resp)
{
	struct agent_rec a;
	uint8_t *key = NULL;
	const char *why = NULL;
	size_t len = 0;
	char *b64 = NULL, fwhy[300];
	int e;

	if ((e = vms_find_node(req->vc, req->id, &a, fwhy,
	    sizeof(fwhy))) != 0) {
		log_warn("mige-key: refused: %s", fwhy);
		if (e == VIGIL_EEXIST)
			return http_problem(resp, 409, "ambiguous-node",
			    "Ambiguous node", "%s", fwhy);
		return http_problem(resp, 404, "not-found", "Not found",
		    "%s", fwhy);
	}
	e = vms_mige_key(req->vc, a.id, &key, &len, &why);
	if (e == 0) {
		if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
			e = VIGIL_ENOMEM;
			goto out;
		}
		EVP_EncodeBlock((unsigned char *)b64, key, (int)len);
		http_json(resp, 200, json_pack("{s:s, s:s, s:s}", "node",
		    a.id, "hostname", a.hostname, "transport_pub", b64));
	} else {
		http_problem(resp, 409, "no-mige-key", "No MigE key",
		    "%s", why != NULL ? why : vigil_strerror(e));
		e = 0;
	}
 out:
	free(b64);
	free(key);
	agent_rec_free(&a);
	return e;
}

/* ---- agent routes ---- */

static int
vms_proto(struct http_resp *resp, const ProtobufCMessage *m)
{
	uint8_t *p;
	size_t n;
	int e;

	n = protobuf_c_message_get_packed_size(m);
	if ((p = malloc(n > 0 ? n : 1)) == NULL)
		return VIGIL_ENOMEM;
	protobuf_c_message_pack(m, p);
	e = http_proto(resp, p, n);
	free(p);
	return e;
}

/* The agent of the path, active. */
static int
vms_agent(struct http_req *req, struct http_resp *resp, struct agent_rec *a)
{
	int e;

	memset(a, 0, sizeof(*a));
	e = store_agent_get(req->vc->store, req->id, a);
	if (e == VIGIL_ENOTFOUND) {
		http_problem(resp, 404, "unknown-agent", "Unknown agent",
		    "no agent %.70s", req->id);
		return e;
	}
	if (e != 0) {
		vms_store_error(resp, "agent lookup", e);
		return e;
	}
	if (a->state != AGENT_ACTIVE) {
		agent_rec_free(a);
		http_problem(resp, 409, "pending", "Agent not activated",
		    "agent %.70s has not completed activation", req->id);
		return VIGIL_EDENIED;
	}
	return 0;
}

/* The vTPM's identity checks (DESIGN.md step 5), in order; 0 or the
 * refusal in resp. */
static int
vms_vtpm_verify(struct vctx *vc, const struct agent_rec *a,
    const Vigil__VtpmRegisterRequest *m, struct http_resp *resp,
    TPM2B_PUBLIC *ek, TPM2B_PUBLIC *ak)
{
	X509_STORE *cas = NULL;
	struct binding b;
	const char *why = NULL;
	int e = VIGIL_EVERIFY, have_b = 0;

	memset(&b, 0, sizeof(b));
	if (tpm_public_parse(m->ek_public.data, m->ek_public.len, ek) != 0 ||
	    tpm_public_parse(m->ak_public.data, m->ak_public.len, ak) != 0) {
		vms_bad(resp, "vtpms", "ek_public or ak_public is not a "
		    "marshaled TPM2B_PUBLIC");
		goto out;
	}
	if (tpm_ak_check(ak, &why) != 0) {
		http_problem(resp, 400, "ak", "Bad AK", "vTPM AK: %s",
		    why != NULL ? why : "refused");
		goto out;
	}
	if (binding_parse(m->binding.data, m->binding.len, &b) != 0) {
		vms_bad(resp, "vtpms", "binding is malformed");
		goto out;
	}
	have_b = 1;
	if ((e = vms_platform_cas(vc, &cas)) != 0 || cas == NULL) {
		log_warn("vtpms: refused: no platform vendor CA configured");
		http_problem(resp, 403, "ek-cert", "EK certificate refused",
		    "no platform vendor CA is configured ([attestation] "
		    "platform_ca)");
		e = VIGIL_EVERIFY;
		goto out;
	}
	e = VIGIL_EVERIFY;
	if (binding_verify(&b, cas, NULL, &why) != 0 ||
	    binding_check_ak(&b, a->ak_pub, a->ak_pub_len, &why) != 0 ||
	    binding_verify_ek_cert(&b, cas, m->ek_cert.data, m->ek_cert.len,
	    m->ek_public.data, m->ek_public.len, &why) != 0) {
		log_warn("vtpms: refused: agent=%s vm=%.40s: %s", a->id,
		    m->vm_id, why != NULL ? why : "refused");
		http_problem(resp, 403, "ek-cert", "EK certificate refused",
		    "vTPM EK certificate does not chain to a trusted PSE: %s",
		    why != NULL ? why : "refused");
		goto out;
	}
	e = 0;
 out:
	X509_STORE_free(cas);
	if (have_b)
		binding_free(&b);
	return e;
}

int
routes_vms_vtpm_register(struct http_req *req, struct http_resp *resp)
{
	Vigil__VtpmRegisterRequest *m = NULL;
	Vigil__RegisterResponse out = VIGIL__REGISTER_RESPONSE__INIT;
	struct vm_vtpm_reg reg;
	struct agent_rec a;
	struct vm_rec vm;
	TPM2B_PUBLIC ek, ak;
	TPM2B_NAME name;
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET esec;
	uint8_t secret[VMS_SECRET_LEN], h[SHA256_LEN];
	uint8_t credb[sizeof(TPM2B_ID_OBJECT)];
	uint8_t secb[sizeof(TPM2B_ENCRYPTED_SECRET)];
	size_t credlen = 0, seclen = 0;
	unsigned hl = 0;
	int e, have_a = 0;

	memset(&vm, 0, sizeof(vm));
	m = vigil__vtpm_register_request__unpack(NULL, req->body_len,
	    req->body);
	if (m == NULL || m->base.n_unknown_fields != 0 ||
	    !store_vm_id_ok(m->vm_id) || m->ek_public.len == 0 ||
	    m->ek_public.len > VMS_MAX_PUBLIC || m->ak_public.len == 0 ||
	    m->ak_public.len > VMS_MAX_PUBLIC || m->ek_cert.len == 0 ||
	    m->ek_cert.len > VMS_MAX_CERT || m->binding.len == 0 ||
	    m->binding.len > VMS_MAX_BINDING) {
		vms_bad(resp, "vtpms", "VtpmRegisterRequest malformed or a "
		    "field empty or over its limit");
		goto done;
	}
	if (vms_agent(req, resp, &a) != 0)
		goto done;
	have_a = 1;
	e = store_vm_get(req->vc->store, m->vm_id, NULL, &vm);
	if (e == VIGIL_ENOTFOUND) {
		vms_not_found(resp, m->vm_id);
		goto done;
	}
	if (e != 0) {
		vms_store_error(resp, "reading the VM", e);
		goto done;
	}
	if (vms_vtpm_verify(req->vc, &a, m, resp, &ek, &ak) != 0)
		goto done;
	if ((e = tpm_public_name(&ak, &name)) != 0 ||
	    RAND_bytes(secret, sizeof(secret)) != 1 ||
	    (e = makecred(&ek, &name, secret, sizeof(secret), &cred,
	    &esec)) != 0 ||
	    (e = makecred_marshal(&cred, &esec, credb, sizeof(credb),
	    &credlen, secb, sizeof(secb), &seclen)) != 0 ||
	    EVP_Digest(secret, sizeof(secret), h, &hl, EVP_sha256(), NULL) !=
	    1) {
		http_problem(resp, 500, "internal", "Internal error",
		    "credential for the vTPM AK failed");
		goto done;
	}
	memset(&reg, 0, sizeof(reg));
	reg.vm_id = m->vm_id;
	reg.node_id = a.id;
	reg.ek_pub = m->ek_public.data;
	reg.ek_pub_len = m->ek_public.len;
	reg.ek_cert = m->ek_cert.data;
	reg.ek_cert_len = m->ek_cert.len;
	reg.ak_pub = m->ak_public.data;
	reg.ak_pub_len = m->ak_public.len;
	reg.ak_name = name.name;
	reg.ak_name_len = name.size;
	reg.secret_hash = h;
	e = store_vm_vtpm_register(req->vc->store, &reg);
	if (e == VIGIL_EEXIST) {
		http_problem(resp, 409, "vtpm-in-use", "vTPM conflict",
		    "VM %s's vTPM is enrolled on another node, or this AK "
		    "belongs to another VM", m->vm_id);
		goto done;
	}
	if (e != 0) {
		vms_store_error(resp, "registering the vTPM", e);
		goto done;
	}
	out.agent_id = m->vm_id;
	out.credential_blob.data = credb;
	out.credential_blob.len = credlen;
	out.encrypted_secret.data = secb;
	out.encrypted_secret.len = seclen;
	vms_proto(resp, &out.base);
	log_info("vtpms: agent=%s vm=%s vTPM registered, pending activation",
	    a.id, m->vm_id);
 done:
	OPENSSL_cleanse(secret, sizeof(secret));
	vm_rec_free(&vm);
	if (have_a)
		agent_rec_free(&a);
	if (m != NULL)
		vigil__vtpm_register_request__free_unpacked(m, NULL);
	return 0;
}

int
routes_vms_vtpm_activate(struct http_req *req, struct http_resp *resp)
{
	Vigil__VtpmActivateRequest *m = NULL;
	Vigil__ActivateResponse out = VIGIL__ACTIVATE_RESPONSE__INIT;
	struct agent_rec a;
	struct vm_rec vm;
	uint8_t h[SHA256_LEN];
	unsigned hl = 0;
	int e, have_a = 0;

	memset(&vm, 0, sizeof(vm));
	m = vigil__vtpm_activate_request__unpack(NULL, req->body_len,
	    req->body);
	if (m == NULL || m->base.n_unknown_fields != 0 ||
	    !store_vm_id_ok(m->vm_id) || m->secret.len != VMS_SECRET_LEN) {
		vms_bad(resp, "vtpms activate", "VtpmActivateRequest "
		    "malformed");
		goto done;
	}
	if (vms_agent(req, resp, &a) != 0)
		goto done;
	have_a = 1;
	if ((e = store_vm_get(req->vc->store, m->vm_id, NULL, &vm)) != 0) {
		if (e == VIGIL_ENOTFOUND)
			vms_not_found(resp, m->vm_id);
		else
			vms_store_error(resp, "reading the VM", e);
		goto done;
	}
	if (vm.vtpm_state != VM_VTPM_PENDING ||
	    strcmp(vm.migrate_to, a.id) != 0 ||
	    EVP_Digest(m->secret.data, m->secret.len, h, &hl, EVP_sha256(),
	    NULL) != 1 || CRYPTO_memcmp(h, vm.secret_hash, SHA256_LEN) != 0) {
		log_warn("vtpms activate: refused: agent=%s vm=%s credential "
		    "secret does not match a pending registration", a.id,
		    vm.id);
		http_problem(resp, 403, "credential", "Activation refused",
		    "the secret does not match the vTPM's pending "
		    "registration on this node");
		goto done;
	}
	if ((e = store_vm_vtpm_activate(req->vc->store, vm.id, a.id)) != 0) {
		vms_store_error(resp, "activating the vTPM", e);
		goto done;
	}
	vms_proto(resp, &out.base);
	log_info("vtpms: agent=%s vm=%s vTPM enrolled, placed on the node",
	    a.id, vm.id);
 done:
	vm_rec_free(&vm);
	if (have_a)
		agent_rec_free(&a);
	if (m != NULL)
		vigil__vtpm_activate_request__free_unpacked(m, NULL);
	return 0;
}

/* smm.migration: a VM's sealed state handed from one node to another
 * (state "queued": the source's MigE sent it; "confirmed": the target
 * attested the VM, which now runs there), for the VM's tenant and
 * operators: {"vm", "source", "target", "state"[, "status"]}. */
static void
vms_migration_event(struct vctx *vc, const char *vm_id, const char *tenant,
    const char *source, const char *target, const char *state,
    const char *status)
{
	char subject[8 + VM_ID_LEN], *data = NULL;
	json_t *d;

	d = json_pack("{s:s, s:s, s:s, s:s}", "vm", vm_id, "source", source,
	    "target", target, "state", state);
	if (d == NULL)
		return;
	if (status != NULL)
		json_object_set_new(d, "status", json_string(status));
	snprintf(subject, sizeof(subject), "vm/%s", vm_id);
	if ((data = json_dumps(d, JSON_COMPACT)) != NULL)
		(void)events_emit(vc->store, "smm.migration", subject,
		    tenant[0] ? tenant : NULL, data);
	free(data);
	json_decref(d);
}

int
routes_vms_migrate(struct http_req *req, struct http_resp *resp)
{
	Vigil__VmMigration *m = NULL;
	Vigil__ActivateResponse out = VIGIL__ACTIVATE_RESPONSE__INIT;
	struct vm_attest_req q;
	struct agent_rec a, t;
	struct vm_rec vm;
	char st[24];
	int e, have_a = 0;

	memset(&t, 0, sizeof(t));
	memset(&vm, 0, sizeof(vm));
	m = vigil__vm_migration__unpack(NULL, req->body_len, req->body);
	if (m == NULL || m->base.n_unknown_fields != 0 ||
	    !store_vm_id_ok(m->vm_id) || !vms_node_id_ok(m->target_node) ||
	    m->blob.len == 0 || m->blob.len > VMS_MAX_BLOB) {
		vms_bad(resp, "vtpms migrate", "VmMigration malformed");
		goto done;
	}
	if (vms_agent(req, resp, &a) != 0)
		goto done;
	have_a = 1;
	if (store_agent_get(req->vc->store, m->target_node, &t) != 0 ||
	    t.state != AGENT_ACTIVE || strcmp(t.id, a.id) == 0) {
		http_problem(resp, 404, "unknown-agent", "Unknown target",
		    "no other active node %.70s", m->target_node);
		goto done;
	}
	vms_node_status(req->vc, t.id, st);
	if (strcmp(st, "affirming") != 0) {
		log_warn("vtpms migrate: refused: vm=%s target %s is %s",
		    m->vm_id, t.id, st);
		http_problem(resp, 409, "target-not-affirming",
		    "Target not affirming", "the target node %s is %s, not "
		    "affirming", t.id, st);
		goto done;
	}
	e = store_vm_migration_add(req->vc->store, m->vm_id, a.id, t.id,
	    m->blob.data, m->blob.len);
	if (e == VIGIL_EDENIED || e == VIGIL_ENOTFOUND) {
		http_problem(resp, 409, "not-host", "Not the VM's host",
		    "VM %s is not enrolled on node %s", m->vm_id, a.id);
		goto done;
	}
	if (e != 0) {
		vms_store_error(resp, "queueing the migration", e);
		goto done;
	}
	/* The target confirms the VM by attesting it there. */
	if ((e = store_vm_attest_add(req->vc->store, m->vm_id, t.id,
	    VMS_ATTEST_TTL, &q)) != 0)
		log_err("vms: vm=%s: asking the target to attest failed: %s",
		    m->vm_id, vigil_strerror(e));
	vm_attest_req_clear(&q);
	vms_proto(resp, &out.base);
	resp->status = 202;
	log_info("vms: vm=%s migration from %.16s to %.16s queued (%zu "
	    "sealed bytes)", m->vm_id, a.id, t.id, m->blob.len);
	if (store_vm_get(req->vc->store, m->vm_id, NULL, &vm) == 0)
		vms_migration_event(req->vc, vm.id, vm.tenant, a.id, t.id,
		    "queued", NULL);
 done:
	vm_rec_free(&vm);
	agent_rec_free(&t);
	if (have_a)
		agent_rec_free(&a);
	if (m != NULL)
		vigil__vm_migration__free_unpacked(m, NULL);
	return 0;
}

int
routes_vms_agent_mige_key(struct http_req *req, struct http_resp *resp)
{
	Vigil__MigeKeyRequest *m = NULL;
	Vigil__MigeKeyResponse out = VIGIL__MIGE_KEY_RESPONSE__INIT;
	struct agent_rec a, t;
	uint8_t *key = NULL;
	const char *why = NULL;
	char fwhy[300];
	size_t len = 0;
	int e, have_a = 0;

	memset(&t, 0, sizeof(t));
	m = vigil__mige_key_request__unpack(NULL, req->body_len, req->body);
	if (m == NULL || m->base.n_unknown_fields != 0 || m->node == NULL ||
	    m->node[0] == '\0' || strlen(m->node) > 255) {
		vms_bad(resp, "mige-key", "MigeKeyRequest malformed");
		goto done;
	}
	if (vms_agent(req, resp, &a) != 0)
		goto done;
	have_a = 1;
	if ((e = vms_find_node(req->vc, m->node, &t, fwhy,
	    sizeof(fwhy))) != 0) {
		log_warn("mige-key: refused: agent=%s: %s", a.id, fwhy);
		vms_find_problem(resp, e, fwhy);
		goto done;
	}
	if (vms_mige_key(req->vc, t.id, &key, &len, &why) != 0) {
		log_warn("mige-key: refused: agent=%s target=%s: %s", a.id,
		    t.id, why != NULL ? why : "unavailable");
		http_problem(resp, 409, "no-mige-key", "No MigE key", "%s",
		    why != NULL ? why : "unavailable");
		goto done;
	}
	out.node_id = t.id;
	out.hostname = t.hostname;
	out.transport_pub.data = key;
	out.transport_pub.len = len;
	vms_proto(resp, &out.base);
 done:
	free(key);
	agent_rec_free(&t);
	if (have_a)
		agent_rec_free(&a);
	if (m != NULL)
		vigil__mige_key_request__free_unpacked(m, NULL);
	return 0;
}

/* ---- the push exchange ---- */

static int
vms_pcrs(Vigil__PcrValue **v, size_t n, struct pcrs *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (n > PCR_COUNT)
		return VIGIL_EINVAL;
	for (i = 0; i < n; i++) {
		if (v[i]->base.n_unknown_fields != 0 ||
		    v[i]->index >= PCR_COUNT ||
		    v[i]->digest.len != SHA256_LEN ||
		    (out->mask & (1u << v[i]->index)))
			return VIGIL_EINVAL;
		out->mask |= 1u << v[i]->index;
		memcpy(out->v[v[i]->index], v[i]->digest.data, SHA256_LEN);
	}
	return 0;
}

/* The tenant's guest reference values (NULL when none or unparsable). */
static struct refvals *
vms_guest_refs(struct vctx *vc, const char *tenant)
{
	struct refvals *r = NULL;
	char *doc = NULL, why[200];

	if (store_vm_refvals_get(vc->store, tenant, &doc, NULL) != 0)
		return NULL;
	if (refvals_parse(doc, strlen(doc), &r, why, sizeof(why)) != 0) {
		log_err("vms: tenant %s: stored guest reference values do not "
		    "parse: %s", tenant, why);
		r = NULL;
	}
	free(doc);
	return r;
}

static void
vms_one_attestation(struct vctx *vc, const struct agent_rec *a,
    const Vigil__VmAttestation *m, const char *status, int fresh)
{
	struct appraise_vm_in in;
	struct appraise_vm_out o;
	struct vm_result_commit c;
	struct vm_attest_req q;
	struct pcrs vp;
	struct vm_rec vm;
	X509_STORE *cas = NULL;
	struct refvals *refs = NULL;
	char *json = NULL, joined[1024];
	uint8_t *mcert = NULL;
	size_t mcert_len = 0;
	int64_t now = (int64_t)time(NULL);
	int e;

	memset(&vm, 0, sizeof(vm));
	memset(&q, 0, sizeof(q));
	if (store_vm_attest_by_nonce(vc->store, m->nonce.data, m->nonce.len,
	    &q) != 0) {
		log_warn("vm attestation: refused: agent=%s vm=%.40s check="
		    "nonce: no such request", a->id, m->vm_id);
		return;
	}
	if (q.done || q.expires_at <= now || strcmp(q.node_id, a->id) != 0 ||
	    strcmp(q.vm_id, m->vm_id) != 0) {
		log_warn("vm attestation: refused: agent=%s vm=%.40s check="
		    "nonce: request %lld %s", a->id, m->vm_id,
		    (long long)q.id, q.done ? "already answered (replay)" :
		    q.expires_at <= now ? "expired" :
		    "was for another node or VM");
		goto out;
	}
	if (vms_pcrs(m->vtpm_pcrs, m->n_vtpm_pcrs, &vp) != 0) {
		log_warn("vm attestation: refused: agent=%s vm=%s: bad vTPM "
		    "PCR list", a->id, m->vm_id);
		goto out;
	}
	if (store_vm_get(vc->store, m->vm_id, NULL, &vm) != 0)
		goto out;
	if (vms_platform_cas(vc, &cas) != 0)
		cas = NULL;
	if (vms_pse_datum(vc, a->id, VIGIL_TAG_PSE_PLATFORM_CERT, &mcert,
	    &mcert_len) != 0)
		mcert = NULL;
	refs = vms_guest_refs(vc, vm.tenant);
	memset(&in, 0, sizeof(in));
	in.vm = &vm;
	in.node = a;
	in.node_status = status;
	in.node_fresh = fresh;
	in.nonce = q.nonce;
	in.nonce_len = VM_NONCE_LEN;
	in.vquote = m->vtpm_quote.data;
	in.vquote_len = m->vtpm_quote.len;
	in.vsig = m->vtpm_signature.data;
	in.vsig_len = m->vtpm_signature.len;
	in.vpcrs = &vp;
	in.binding = m->binding.data;
	in.binding_len = m->binding.len;
	in.pquote = m->deep_quote.data;
	in.pquote_len = m->deep_quote.len;
	in.psig = m->deep_signature.data;
	in.psig_len = m->deep_signature.len;
	in.platform_cas = cas;
	in.measured_cert = mcert;
	in.measured_cert_len = mcert_len;
	in.handoff = vms_handoff(vc, a);
	in.guest_refs = refs;
	if ((e = appraise_vm(&in, &o)) != 0 ||
	    (e = appraise_vm_result_json(&in, &o, now, &json)) != 0) {
		log_err("vm attestation: agent=%s vm=%s: internal failure: %s",
		    a->id, vm.id, vigil_strerror(e));
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.req_id = q.id;
	c.vm_id = vm.id;
	c.node_id = a->id;
	c.status = ear_tier_name(o.status);
	c.result_json = json;
	c.qs_ok = o.quote_ok && o.status != EAR_TIER_CONTRAINDICATED;
	c.clock = o.clock;
	c.reset_count = o.reset_count;
	c.restart_count = o.restart_count;
	c.move = o.move;
	if ((e = store_vm_result(vc->store, &c)) != 0) {
		log_err("vm attestation: agent=%s vm=%s: storing the result "
		    "failed: %s", a->id, vm.id, vigil_strerror(e));
		goto out;
	}
	if (o.move)
		vms_migration_event(vc, vm.id, vm.tenant, vm.host_node, a->id,
		    "confirmed", c.status);
	ear_reasons_join(&o.guest, joined, sizeof(joined));
	log_info("vm appraisal vm=%s node=%.16s status=%s guest=%s host=%s "
	    "reasons=%s%s", vm.id, a->id, c.status,
	    ear_tier_name(ear_status(&o.guest)),
	    ear_tier_name(ear_status(&o.host)), joined[0] ? joined : "-",
	    o.move ? " (migration confirmed)" : "");
	if (o.host.n_reasons > 0) {
		ear_reasons_join(&o.host, joined, sizeof(joined));
		log_info("vm appraisal vm=%s host reasons=%s", vm.id, joined);
	}
 out:
	free(json);
	free(mcert);
	refvals_free(refs);
	X509_STORE_free(cas);
	vm_rec_free(&vm);
	vm_attest_req_clear(&q);
}

void
routes_vms_evidence(struct vctx *vc, const struct agent_rec *a,
    const struct item_in *items, size_t n,
    const enum item_outcome *outcomes, const char *status, int fresh)
{
	Vigil__VmAttestation *m;
	size_t i;

	for (i = 0; i < n; i++) {
		if (items[i].kind != (uint32_t)
		    VIGIL__ITEM_KIND__ITEM_VM_ATTESTATION ||
		    (outcomes != NULL && outcomes[i] != ITEM_NEW))
			continue;
		m = vigil__vm_attestation__unpack(NULL, items[i].body_len,
		    items[i].body);
		if (m == NULL || m->base.n_unknown_fields != 0 ||
		    !store_vm_id_ok(m->vm_id) ||
		    m->vtpm_quote.len > VMS_MAX_QUOTE ||
		    m->vtpm_signature.len > VMS_MAX_SIG ||
		    m->deep_quote.len > VMS_MAX_QUOTE ||
		    m->deep_signature.len > VMS_MAX_SIG ||
		    m->binding.len > VMS_MAX_BINDING) {
			log_warn("vm attestation: refused: agent=%s item seq "
			    "%llu: not a valid VmAttestation", a->id,
			    (unsigned long long)items[i].seq);
			if (m != NULL)
				vigil__vm_attestation__free_unpacked(m, NULL);
			continue;
		}
		vms_one_attestation(vc, a, m, status, fresh);
		vigil__vm_attestation__free_unpacked(m, NULL);
	}
}

struct routes_vms_reply {
	struct vm_attest_req *reqs;
	size_t n_reqs;
	Vigil__VmAttestRequest *areq;
	Vigil__VmAttestRequest **preq;
	struct vm_migration *migs;
	size_t n_migs;
	Vigil__VmMigration *amig;
	Vigil__VmMigration **pmig;
	char (*rel)[VM_ID_LEN + 1];
	size_t n_rel;
	char **prel;
};

void
routes_vms_reply_free(struct routes_vms_reply *k)
{
	if (k == NULL)
		return;
	vm_attest_reqs_free(k->reqs, k->n_reqs);
	free(k->areq);
	free(k->preq);
	vm_migrations_free(k->migs, k->n_migs);
	free(k->amig);
	free(k->pmig);
	free(k->rel);
	free(k->prel);
	free(k);
}

int
routes_vms_reply_fill(struct vctx *vc, const char *agent_id,
    Vigil__EvidenceReply *out, struct routes_vms_reply **keep)
{
	struct routes_vms_reply *k;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int e;

	*keep = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return VIGIL_ENOMEM;
	if ((e = store_vm_attest_pending(vc->store, agent_id, now,
	    VMS_REPLY_REQS, &k->reqs, &k->n_reqs)) != 0 ||
	    (e = store_vm_migrations_for(vc->store, agent_id, &k->migs,
	    &k->n_migs)) != 0 ||
	    (e = store_vm_released(vc->store, agent_id,
	    now - VMS_RELEASE_WINDOW, &k->rel, &k->n_rel)) != 0)
		goto fail;
	e = VIGIL_ENOMEM;
	if (k->n_reqs > 0 && ((k->areq = calloc(k->n_reqs,
	    sizeof(*k->areq))) == NULL || (k->preq = calloc(k->n_reqs,
	    sizeof(*k->preq))) == NULL))
		goto fail;
	if (k->n_migs > 0 && ((k->amig = calloc(k->n_migs,
	    sizeof(*k->amig))) == NULL || (k->pmig = calloc(k->n_migs,
	    sizeof(*k->pmig))) == NULL))
		goto fail;
	if (k->n_rel > 0 && (k->prel = calloc(k->n_rel,
	    sizeof(*k->prel))) == NULL)
		goto fail;
	for (i = 0; i < k->n_reqs; i++) {
		vigil__vm_attest_request__init(&k->areq[i]);
		k->areq[i].vm_id = k->reqs[i].vm_id;
		k->areq[i].nonce.data = k->reqs[i].nonce;
		k->areq[i].nonce.len = VM_NONCE_LEN;
		k->preq[i] = &k->areq[i];
	}
	for (i = 0; i < k->n_migs; i++) {
		vigil__vm_migration__init(&k->amig[i]);
		k->amig[i].vm_id = k->migs[i].vm_id;
		k->amig[i].source_node = k->migs[i].source_node;
		k->amig[i].target_node = k->migs[i].target_node;
		k->amig[i].blob.data = k->migs[i].blob;
		k->amig[i].blob.len = k->migs[i].blob_len;
		k->pmig[i] = &k->amig[i];
		if (k->migs[i].state == 0)
			store_vm_migration_delivered(vc->store,
			    k->migs[i].id);
	}
	for (i = 0; i < k->n_rel; i++)
		k->prel[i] = k->rel[i];
	out->n_vm_attest = k->n_reqs;
	out->vm_attest = k->preq;
	out->n_vm_migrations = k->n_migs;
	out->vm_migrations = k->pmig;
	out->n_vm_released = k->n_rel;
	out->vm_released = k->prel;
	*keep = k;
	return 0;
 fail:
	routes_vms_reply_free(k);
	return e;
}
