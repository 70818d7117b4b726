/* The verifier's store: agents, idempotent items, event-log chunks,
 * appraisal dedup, reference values, tokens, group commit, durability. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "err.h"
#include "verifier/store.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *s;
};

static void
fx_rm(struct fx *f)
{
	char p[160];
	const char *sfx[] = { "", "-wal", "-shm", "-journal" };
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-store.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/v.db", f->dir);
	if (store_open(f->path, &f->s) != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	fx_rm(f);
	free(f);
	return 0;
}

/* A count by SQL through a connection of the test's own. */
static int64_t
count(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* A write by SQL through a connection of the test's own (SQLite's rc). */
static int
exec(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static uint8_t ek[] = { 0, 4, 1, 2, 3, 4 };
static uint8_t ak[] = { 0, 4, 9, 9, 9, 9 };

/* An agent record whose id and AK name derive from tag. */
static void
mkagent(struct agent_rec *a, char tag)
{
	memset(a, 0, sizeof(*a));
	memset(a->id, tag, 64);
	snprintf(a->hostname, sizeof(a->hostname), "node-%c", tag);
	a->ek_pub = ek;
	a->ek_pub_len = sizeof(ek);
	a->ak_pub = ak;
	a->ak_pub_len = sizeof(ak);
	a->ak_name[0] = 0x00;
	a->ak_name[1] = 0x0b;
	memset(a->ak_name + 2, tag, 32);
	a->ak_name_len = 34;
	memset(a->secret_hash, tag, SHA256_LEN);
}

static void
add_active_agent(struct store *s, char tag, char id[65])
{
	struct agent_rec a;

	mkagent(&a, tag);
	assert_int_equal(store_agent_register(s, &a, NULL), 0);
	assert_int_equal(store_agent_activate(s, a.id, a.secret_hash, NULL,
	    NULL), 0);
	memcpy(id, a.id, 65);
}

static int
activate(struct store *s, const struct agent_rec *a,
    struct agent_activation *out)
{
	return store_agent_activate(s, a->id, a->secret_hash, NULL, out);
}

static void
test_store_registers_and_activates_agent(void **state)
{
	struct fx *f = *state;
	struct agent_rec a, got;
	char id[65];

	mkagent(&a, 'a');
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(store_agent_get(f->s, a.id, &got), 0);
	assert_int_equal(got.state, AGENT_PENDING);
	assert_string_equal(got.hostname, "node-a");
	assert_int_equal(got.ek_pub_len, sizeof(ek));
	assert_memory_equal(got.ek_pub, ek, sizeof(ek));
	assert_null(got.ek_cert);
	agent_rec_free(&got);
	/* A pending agent claims no AK yet. */
	assert_int_equal(store_agent_by_ak_name(f->s, a.ak_name,
	    a.ak_name_len, id), VIGIL_ENOTFOUND);
	assert_int_equal(activate(f->s, &a, NULL), 0);
	assert_int_equal(store_agent_get(f->s, a.id, &got), 0);
	assert_int_equal(got.state, AGENT_ACTIVE);
	assert_int_equal(got.ak_name_len, 34);
	assert_memory_equal(got.secret_hash, a.secret_hash, SHA256_LEN);
	agent_rec_free(&got);
	assert_int_equal(store_agent_by_ak_name(f->s, a.ak_name,
	    a.ak_name_len, id), 0);
	assert_string_equal(id, a.id);
	/* The secret is used up. */
	assert_int_equal(activate(f->s, &a, NULL), VIGIL_EDENIED);
	assert_int_equal(count(f, "SELECT count(*) FROM agent_activations"),
	    0);
	mkagent(&a, 'z');
	assert_int_equal(store_agent_get(f->s, a.id, &got), VIGIL_ENOTFOUND);
	assert_int_equal(activate(f->s, &a, NULL), VIGIL_ENOTFOUND);
}

static void
test_store_refuses_ak_registered_to_another_agent(void **state)
{
	struct fx *f = *state;
	struct agent_rec a, b;
	struct agent_activation act;

	mkagent(&a, 'a');
	mkagent(&b, 'b');
	memcpy(b.ak_name, a.ak_name, a.ak_name_len);
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	/* Both pending: neither claims the AK, the first activation wins. */
	assert_int_equal(store_agent_register(f->s, &b, NULL), 0);
	assert_int_equal(activate(f->s, &a, NULL), 0);
	assert_int_equal(activate(f->s, &b, &act), VIGIL_EEXIST);
	assert_string_equal(act.why, "AK uniqueness: this AK is registered to "
	    "agent aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaa");
	/* Once active, another agent's registration with it is refused. */
	assert_int_equal(store_agent_register(f->s, &b, NULL), VIGIL_EEXIST);
	assert_int_equal(count(f, "SELECT count(*) FROM agents WHERE "
	    "state = 1"), 1);
}

/* Issue 9: an EK key or certificate belongs to one active agent. */
static void
test_store_ek_key_and_cert_belong_to_one_active_agent(void **state)
{
	struct fx *f = *state;
	struct agent_rec a, b;
	struct agent_activation act;
	char other[65];
	int cert = -1;

	mkagent(&a, 'a');
	memset(a.ek_key_fp, 0x11, SHA256_LEN);
	memset(a.ek_cert_fp, 0x22, SHA256_LEN);
	a.have_ek_key_fp = a.have_ek_cert_fp = 1;
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(activate(f->s, &a, NULL), 0);
	mkagent(&b, 'b');
	memset(b.ek_key_fp, 0x11, SHA256_LEN);	/* same key, other area */
	memset(b.ek_cert_fp, 0x33, SHA256_LEN);
	b.have_ek_key_fp = b.have_ek_cert_fp = 1;
	assert_int_equal(store_agent_by_ek(f->s, b.id, b.ek_key_fp,
	    b.ek_cert_fp, other, &cert), 0);
	assert_string_equal(other, a.id);
	assert_int_equal(cert, 0);
	assert_int_equal(store_agent_by_ek(f->s, a.id, a.ek_key_fp,
	    a.ek_cert_fp, other, &cert), VIGIL_ENOTFOUND);
	/* The store itself refuses the activation, naming the check. */
	assert_int_equal(store_agent_register(f->s, &b, NULL), 0);
	assert_int_equal(activate(f->s, &b, &act), VIGIL_EEXIST);
	assert_string_equal(act.why, "EK uniqueness: this EK key belongs to "
	    "active agent aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaa");
	memset(b.ek_key_fp, 0x44, SHA256_LEN);
	memset(b.ek_cert_fp, 0x22, SHA256_LEN);	/* same certificate */
	b.secret_hash[0] ^= 1;
	assert_int_equal(store_agent_register(f->s, &b, NULL), 0);
	assert_int_equal(activate(f->s, &b, &act), VIGIL_EEXIST);
	assert_string_equal(act.why, "EK uniqueness: this EK certificate "
	    "belongs to active agent aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(count(f, "SELECT count(*) FROM agents WHERE "
	    "state = 1"), 1);
}

static void
test_store_refuses_reregistering_active_agent(void **state)
{
	struct fx *f = *state;
	struct agent_rec a, got;
	uint8_t ak2[] = { 0, 3, 7, 7, 7 };

	mkagent(&a, 'a');
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	/* Pending: the activation applies the registration it completes. */
	snprintf(a.hostname, sizeof(a.hostname), "renamed");
	a.secret_hash[0] ^= 1;
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(activate(f->s, &a, NULL), 0);
	a.ak_name[5] ^= 1;
	a.ak_pub = ak2;
	a.ak_pub_len = sizeof(ak2);
	assert_int_equal(store_agent_register(f->s, &a, NULL), VIGIL_EEXIST);
	assert_int_equal(store_agent_get(f->s, a.id, &got), 0);
	assert_string_equal(got.hostname, "renamed");
	assert_int_equal(got.state, AGENT_ACTIVE);
	assert_int_not_equal(got.ak_name[5], a.ak_name[5]);
	agent_rec_free(&got);
}

/* Issue 9: registering an active agent again (its EK, certificate and AK
 * are public) changes nothing until that registration's activation: the
 * host name stays, the node stays active, and the node's own earlier
 * registration keeps its secret. */
static void
test_store_reregistration_changes_nothing_until_activated(void **state)
{
	struct fx *f = *state;
	struct agent_rec a, x, got;
	struct agent_activation act;

	mkagent(&a, 'a');
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(activate(f->s, &a, NULL), 0);
	/* The node registers again (its state was lost)... */
	a.secret_hash[0] ^= 0xff;
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	/* ...and an outsider replays it with its own host name. */
	x = a;
	snprintf(x.hostname, sizeof(x.hostname), "squatted");
	x.secret_hash[1] ^= 0xff;
	assert_int_equal(store_agent_register(f->s, &x, NULL), 0);
	assert_int_equal(store_agent_get(f->s, a.id, &got), 0);
	assert_int_equal(got.state, AGENT_ACTIVE);
	assert_string_equal(got.hostname, "node-a");
	agent_rec_free(&got);
	/* The node's own activation still works. */
	assert_int_equal(activate(f->s, &a, &act), 0);
	assert_int_equal(act.reenrolled, 0);
	assert_int_equal(store_agent_get(f->s, a.id, &got), 0);
	assert_int_equal(got.state, AGENT_ACTIVE);
	assert_string_equal(got.hostname, "node-a");
	assert_memory_equal(got.secret_hash, a.secret_hash, SHA256_LEN);
	agent_rec_free(&got);
	/* ...and drops the outsider's waiting registration with it. */
	assert_int_equal(activate(f->s, &x, NULL), VIGIL_EDENIED);
}

/* A registration never replaces another's secret; an agent has at most
 * STORE_ACTIVATIONS_MAX waiting, then registrations are refused with the
 * time until the oldest expires. */
static void
test_store_waiting_registrations_are_bounded(void **state)
{
	struct fx *f = *state;
	struct agent_rec a;
	int64_t retry = 0;
	int i;

	mkagent(&a, 'a');
	for (i = 0; i < STORE_ACTIVATIONS_MAX; i++) {
		a.secret_hash[0] = (uint8_t)i;
		assert_int_equal(store_agent_register(f->s, &a, &retry), 0);
	}
	a.secret_hash[0] = 0xee;
	assert_int_equal(store_agent_register(f->s, &a, &retry),
	    VIGIL_ETOOBIG);
	assert_true(retry > 0 && retry <= STORE_ACTIVATION_TTL_S + 1);
	/* The first one is still good. */
	a.secret_hash[0] = 0;
	assert_int_equal(activate(f->s, &a, NULL), 0);
	/* Expired ones are not. */
	a.secret_hash[0] = 0x55;
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(exec(f, "UPDATE agent_activations SET created_at = "
	    "created_at - 901"), 0);
	assert_int_equal(activate(f->s, &a, NULL), VIGIL_EDENIED);
}

static void
test_store_approved_reenrol_replaces_keys_once(void **state)
{
	struct fx *f = *state;
	struct agent_rec a, got;
	struct agent_activation act;
	struct appraisal none = { "none", "{}", "[\"re-enrolled\"]", 200 };
	struct appraisal good = { "affirming", "{}", "[]", 100 };
	struct appraisal_row row;
	uint8_t ak2[] = { 0, 3, 7, 7, 7 };

	mkagent(&a, 'a');
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(activate(f->s, &a, NULL), 0);
	assert_int_equal(store_appraisal_add(f->s, a.id, &good), 0);
	assert_int_equal(store_agent_approve_reenrol(f->s, a.id), 0);
	assert_int_equal(store_agent_get(f->s, a.id, &got), 0);
	assert_int_equal(got.reenrol_approved, 1);
	agent_rec_free(&got);

	a.ak_pub = ak2;
	a.ak_pub_len = sizeof(ak2);
	a.ak_name[2] = 'X';
	a.secret_hash[0] ^= 1;
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	/* Until the activation, the node is what it was. */
	assert_int_equal(store_agent_get(f->s, a.id, &got), 0);
	assert_int_equal(got.reenrol_approved, 1);
	assert_int_equal(got.state, AGENT_ACTIVE);
	assert_int_equal(got.ak_pub_len, sizeof(ak));
	agent_rec_free(&got);
	assert_int_equal(store_agent_activate(f->s, a.id, a.secret_hash,
	    &none, &act), 0);
	assert_int_equal(act.reenrolled, 1);
	assert_int_equal(store_agent_get(f->s, a.id, &got), 0);
	assert_int_equal(got.reenrol_approved, 0);
	assert_int_equal(got.state, AGENT_ACTIVE);
	assert_int_equal(got.ak_pub_len, sizeof(ak2));
	assert_memory_equal(got.ak_pub, ak2, sizeof(ak2));
	assert_int_equal(got.ak_name[2], 'X');
	agent_rec_free(&got);
	/* Issue 9: the re-enrolled node's status is `none`, not the last. */
	memset(&row, 0, sizeof(row));
	assert_int_equal(store_appraisal_latest(f->s, a.id, &row), 0);
	assert_string_equal(row.a.status, "none");
	assert_string_equal(row.a.reasons_json, "[\"re-enrolled\"]");
	appraisal_row_clear(&row);
	assert_int_equal(count(f, "SELECT count(*) FROM agents WHERE "
	    "status = 'none'"), 1);

	/* The approval is used up. */
	a.ak_name[2] = 'Y';
	a.ak_pub = ak;
	a.ak_pub_len = sizeof(ak);
	assert_int_equal(store_agent_register(f->s, &a, NULL), VIGIL_EEXIST);
	assert_int_equal(store_agent_approve_reenrol(f->s, "nope"),
	    VIGIL_ENOTFOUND);
}

/* Migration targets by name: active agents only. */
static void
test_store_agents_by_hostname_active_only(void **state)
{
	struct fx *f = *state;
	struct agent_rec a, b, c;
	char ids[2][65];
	size_t n = 9;

	mkagent(&a, 'a');
	mkagent(&b, 'b');
	mkagent(&c, 'c');
	snprintf(b.hostname, sizeof(b.hostname), "node-a");
	snprintf(c.hostname, sizeof(c.hostname), "node-a");
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(store_agent_register(f->s, &b, NULL), 0);
	assert_int_equal(store_agent_register(f->s, &c, NULL), 0);
	assert_int_equal(store_agents_by_hostname(f->s, "node-a", ids, 2, &n),
	    0);
	assert_int_equal(n, 0);
	assert_int_equal(activate(f->s, &a, NULL), 0);
	assert_int_equal(store_agents_by_hostname(f->s, "node-a", ids, 2, &n),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], a.id);
	assert_int_equal(activate(f->s, &b, NULL), 0);
	assert_int_equal(activate(f->s, &c, NULL), 0);
	assert_int_equal(store_agents_by_hostname(f->s, "node-a", ids, 2, &n),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], a.id);
	assert_string_equal(ids[1], b.id);
}

/* Commits items (no bundle, no appraisal) for agent id. */
static int
push(struct store *s, const char *id, const struct item_in *it, size_t n,
    enum item_outcome *oc, struct evidence_result *res)
{
	struct evidence_commit c = { 0 };

	c.agent_id = id;
	c.items = it;
	c.n_items = n;
	memset(res, 0, sizeof(*res));
	res->outcomes = oc;
	return store_commit_evidence(s, &c, res);
}

static void
item(struct item_in *it, uint64_t epoch, uint64_t seq, const char *body)
{
	memset(it, 0, sizeof(*it));
	it->epoch = epoch;
	it->seq = seq;
	it->kind = 2;
	it->body = (const uint8_t *)body;
	it->body_len = strlen(body);
}

static void
test_store_duplicate_item_is_acknowledged_not_stored_twice(void **state)
{
	struct fx *f = *state;
	struct evidence_result res;
	enum item_outcome oc[2];
	struct item_in it[2];
	char id[65];

	add_active_agent(f->s, 'a', id);
	item(&it[0], 7, 1, "one");
	item(&it[1], 7, 2, "two");
	assert_int_equal(push(f->s, id, it, 2, oc, &res), 0);
	assert_int_equal(oc[0], ITEM_NEW);
	assert_int_equal(oc[1], ITEM_NEW);
	assert_int_equal(push(f->s, id, it, 2, oc, &res), 0);
	assert_int_equal(oc[0], ITEM_DUPLICATE);
	assert_int_equal(oc[1], ITEM_DUPLICATE);
	assert_int_equal(res.acked_epoch, 7);
	assert_int_equal(res.acked_seq, 2);
	assert_int_equal(count(f, "SELECT count(*) FROM items"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM item_conflicts"), 0);
}

static void
test_store_same_key_other_content_is_flagged_conflict(void **state)
{
	struct fx *f = *state;
	struct evidence_result res;
	enum item_outcome oc[1];
	struct item_in it[1];
	char id[65];

	add_active_agent(f->s, 'a', id);
	item(&it[0], 7, 1, "original");
	assert_int_equal(push(f->s, id, it, 1, oc, &res), 0);
	item(&it[0], 7, 1, "forged");
	assert_int_equal(push(f->s, id, it, 1, oc, &res), 0);
	assert_int_equal(oc[0], ITEM_CONFLICT);
	assert_int_equal(res.acked_seq, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM items"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM item_conflicts WHERE "
	    "epoch = 7 AND seq = 1"), 1);
	/* The first content stays the item's body; both are kept. */
	assert_int_equal(count(f, "SELECT count(*) FROM items i JOIN blobs b "
	    "ON b.sha256 = i.body_sha256 WHERE b.data = CAST('original' AS "
	    "BLOB)"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM blobs WHERE data = "
	    "CAST('forged' AS BLOB)"), 1);
}

static void
test_store_acks_only_contiguous_seq(void **state)
{
	struct fx *f = *state;
	struct evidence_result res;
	enum item_outcome oc[3];
	struct item_in it[3];
	char id[65];

	add_active_agent(f->s, 'a', id);
	item(&it[0], 5, 1, "1");
	item(&it[1], 5, 2, "2");
	item(&it[2], 5, 4, "4");
	assert_int_equal(push(f->s, id, it, 3, oc, &res), 0);
	assert_int_equal(res.acked_epoch, 5);
	assert_int_equal(res.acked_seq, 2);
	item(&it[0], 5, 3, "3");
	assert_int_equal(push(f->s, id, it, 1, oc, &res), 0);
	assert_int_equal(res.acked_seq, 4);
	/* A push without items reports the agent's latest epoch. */
	assert_int_equal(push(f->s, id, NULL, 0, NULL, &res), 0);
	assert_int_equal(res.acked_epoch, 5);
	assert_int_equal(res.acked_seq, 4);
}

static void
test_store_acks_newest_epoch_of_push(void **state)
{
	struct fx *f = *state;
	struct evidence_result res;
	enum item_outcome oc[3];
	struct item_in it[3];
	char id[65];

	add_active_agent(f->s, 'a', id);
	assert_int_equal(push(f->s, id, NULL, 0, NULL, &res), 0);
	assert_int_equal(res.acked_epoch, 0);
	assert_int_equal(res.acked_seq, 0);
	item(&it[0], 0xfffffffffffffff0ULL, 1, "old");
	item(&it[1], 3, 1, "new1");
	item(&it[2], 3, 2, "new2");
	assert_int_equal(push(f->s, id, it, 3, oc, &res), 0);
	assert_true(res.acked_epoch == 3);
	assert_int_equal(res.acked_seq, 2);
	/* Epochs with the high bit set round-trip. */
	assert_int_equal(push(f->s, id, it, 1, oc, &res), 0);
	assert_int_equal(oc[0], ITEM_DUPLICATE);
	assert_true(res.acked_epoch == 0xfffffffffffffff0ULL);
	assert_int_equal(res.acked_seq, 1);
}

static void
chunk(struct item_in *it, uint64_t seq, uint64_t off, const char *data)
{
	static char body[64];

	snprintf(body, sizeof(body), "chunk %llu", (unsigned long long)seq);
	item(it, 1, seq, body);
	it->body = (const uint8_t *)strdup(body);
	it->kind = STORE_ITEM_EVENT_LOG;
	it->boot_count = 4;
	it->offset = off;
	it->chunk = (const uint8_t *)data;
	it->chunk_len = strlen(data);
}

static void
test_store_event_log_chunks_append_only_at_the_end(void **state)
{
	struct fx *f = *state;
	struct evidence_result res;
	enum item_outcome oc[6];
	struct item_in it[6];
	uint8_t *log = NULL;
	size_t len, i;
	char id[65];

	add_active_agent(f->s, 'a', id);
	chunk(&it[0], 1, 0, "abcd");
	chunk(&it[1], 2, 4, "efgh");
	chunk(&it[2], 3, 2, "cdef");	/* inside, equal bytes */
	chunk(&it[3], 4, 10, "zz");	/* gap */
	chunk(&it[4], 5, 6, "gX");	/* overlap, other bytes */
	chunk(&it[5], 6, 8, "ij");	/* at the end */
	assert_int_equal(push(f->s, id, it, 6, oc, &res), 0);
	assert_int_equal(oc[0], ITEM_NEW);
	assert_int_equal(oc[1], ITEM_NEW);
	assert_int_equal(oc[2], ITEM_NEW);
	assert_int_equal(oc[3], ITEM_CONFLICT);
	assert_int_equal(oc[4], ITEM_CONFLICT);
	assert_int_equal(oc[5], ITEM_NEW);
	assert_int_equal(res.acked_seq, 6);
	assert_int_equal(store_evlog_get(f->s, id, 0, 4, &log, &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(log, "abcdefghij", 10);
	free(log);
	assert_int_equal(count(f, "SELECT count(*) FROM item_conflicts"), 2);
	/* Another boot's log is separate; an unknown one is empty. */
	assert_int_equal(store_evlog_get(f->s, id, 0, 5, &log, &len), 0);
	assert_int_equal(len, 0);
	assert_null(log);
	for (i = 0; i < 6; i++)
		free((void *)it[i].body);
}

static void
test_store_unchanged_appraisal_only_moves_last_at(void **state)
{
	struct fx *f = *state;
	struct appraisal a = { "affirming", "{\"hardware\":2}", "[]", 1000 };
	struct appraisal_row row, *rows;
	struct node_row *nodes;
	int64_t before;
	size_t n;
	char id[65];
	int i;

	add_active_agent(f->s, 'a', id);
	for (i = 0; i < 100; i++) {
		a.at = 1000 + i;
		assert_int_equal(store_appraisal_add(f->s, id, &a), 0);
	}
	assert_int_equal(count(f, "SELECT count(*) FROM appraisals"), 1);
	assert_int_equal(store_appraisal_latest(f->s, id, &row), 0);
	assert_int_equal(row.first_at, 1000);
	assert_int_equal(row.last_at, 1099);
	assert_string_equal(row.a.status, "affirming");
	assert_string_equal(row.a.vector_json, "{\"hardware\":2}");
	appraisal_row_clear(&row);

	snprintf(a.status, sizeof(a.status), "warning");
	a.reasons_json = "[\"pcr 4 differs\"]";
	a.at = 2000;
	assert_int_equal(store_appraisal_add(f->s, id, &a), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM appraisals"), 2);
	assert_int_equal(store_appraisals_list(f->s, id, 0, 10, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].a.status, "warning");
	assert_string_equal(rows[1].a.status, "affirming");
	before = rows[0].id;
	appraisal_rows_free(rows, n);
	assert_int_equal(store_appraisals_list(f->s, id, before, 10, &rows,
	    &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].a.status, "affirming");
	appraisal_rows_free(rows, n);

	assert_int_equal(store_nodes_list(f->s, "", 10, &nodes, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(nodes[0].status, "warning");
	assert_int_equal(nodes[0].last_appraisal_at, 2000);
	free(nodes);

	snprintf(a.status, sizeof(a.status), "great");
	assert_int_equal(store_appraisal_add(f->s, id, &a), VIGIL_EINVAL);
}

static void
test_store_evidence_commit_stores_quote_state_and_appraisal(void **state)
{
	struct fx *f = *state;
	struct quote_state qs = { 0x8000000000000001ULL, 3, 9, 1, 1234 }, got;
	struct appraisal a = { "affirming", "{}", "[]", 1234 };
	struct evidence_commit c = { 0 };
	struct evidence_result res = { 0 };
	struct node_row *nodes;
	size_t n;
	char id[65];

	add_active_agent(f->s, 'a', id);
	assert_int_equal(store_quote_state_get(f->s, id, &got),
	    VIGIL_ENOTFOUND);
	c.agent_id = id;
	c.bundle = (const uint8_t *)"raw bundle";
	c.bundle_len = 10;
	c.qs = &qs;
	c.appraisal = &a;
	assert_int_equal(store_commit_evidence(f->s, &c, &res), 0);
	assert_int_equal(store_commit_evidence(f->s, &c, &res), 0);
	assert_int_equal(store_quote_state_get(f->s, id, &got), 0);
	assert_true(got.clock == qs.clock);
	assert_int_equal(got.reset_count, 3);
	assert_int_equal(got.restart_count, 9);
	assert_int_equal(got.safe, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM blobs"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM bundles"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM appraisals"), 1);
	assert_int_equal(store_nodes_list(f->s, "", 10, &nodes, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(nodes[0].status, "affirming");
	assert_true(nodes[0].last_seen_at > 0);
	free(nodes);

	c.agent_id = "0123";
	assert_int_equal(store_commit_evidence(f->s, &c, &res),
	    VIGIL_ENOTFOUND);
}

static void
test_store_lists_nodes_after_cursor(void **state)
{
	struct fx *f = *state;
	struct node_row *nodes;
	size_t n;
	char id[65];

	add_active_agent(f->s, 'c', id);
	add_active_agent(f->s, 'a', id);
	add_active_agent(f->s, 'b', id);
	assert_int_equal(store_nodes_list(f->s, "", 2, &nodes, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(nodes[0].id[0], 'a');
	assert_int_equal(nodes[1].id[0], 'b');
	assert_string_equal(nodes[1].status, "none");
	snprintf(id, sizeof(id), "%s", nodes[1].id);
	free(nodes);
	assert_int_equal(store_nodes_list(f->s, id, 2, &nodes, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(nodes[0].id[0], 'c');
	free(nodes);
}

static void
test_store_refvals_versions_increase(void **state)
{
	struct fx *f = *state;
	int64_t v1, v2, v;
	char *doc;

	assert_int_equal(store_refvals_get(f->s, &doc, &v), VIGIL_ENOTFOUND);
	assert_int_equal(store_refvals_put(f->s, "{\"a\":1}", "op", &v1), 0);
	assert_int_equal(store_refvals_put(f->s, "{\"a\":2}", "op", &v2), 0);
	assert_true(v2 > v1);
	assert_int_equal(store_refvals_get(f->s, &doc, &v), 0);
	assert_int_equal(v, v2);
	assert_string_equal(doc, "{\"a\":2}");
	free(doc);
}

static void
test_store_token_lookup_and_revoked_is_denied(void **state)
{
	struct fx *f = *state;
	uint8_t h1[SHA256_LEN], h2[SHA256_LEN], h3[SHA256_LEN];
	struct token_rec t;

	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	memset(h3, 3, sizeof(h3));
	assert_int_equal(store_token_add(f->s, h1, "operator", "", "ops"), 0);
	assert_int_equal(store_token_add(f->s, h2, "tenant", "acme", "ci"), 0);
	assert_int_equal(store_token_add(f->s, h2, "tenant", "acme", "ci"),
	    VIGIL_EEXIST);
	assert_int_equal(store_token_add(f->s, h3, "tenant", "", "x"),
	    VIGIL_EINVAL);
	assert_int_equal(store_token_add(f->s, h3, "root", "", "x"),
	    VIGIL_EINVAL);
	assert_int_equal(store_token_lookup(f->s, h1, &t), 0);
	assert_string_equal(t.role, "operator");
	assert_string_equal(t.tenant, "");
	assert_int_equal(store_token_lookup(f->s, h2, &t), 0);
	assert_string_equal(t.role, "tenant");
	assert_string_equal(t.tenant, "acme");
	assert_int_equal(t.revoked, 0);
	assert_int_equal(store_token_lookup(f->s, h3, &t), VIGIL_ENOTFOUND);
	assert_int_equal(store_token_revoke(f->s, h2), 0);
	assert_int_equal(store_token_lookup(f->s, h2, &t), VIGIL_EDENIED);
	assert_int_equal(t.revoked, 1);
	assert_int_equal(store_token_revoke(f->s, h3), VIGIL_ENOTFOUND);
}

static void
test_store_blobs_are_content_addressed(void **state)
{
	struct fx *f = *state;
	uint8_t sha[SHA256_LEN], sha2[SHA256_LEN], *out;
	size_t len;

	assert_int_equal(store_blob_put(f->s, (const uint8_t *)"input", 5,
	    sha), 0);
	assert_int_equal(store_blob_put(f->s, (const uint8_t *)"input", 5,
	    sha2), 0);
	assert_memory_equal(sha, sha2, SHA256_LEN);
	assert_int_equal(count(f, "SELECT count(*) FROM blobs"), 1);
	assert_int_equal(store_blob_get(f->s, sha, &out, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "input", 5);
	free(out);
	sha[0] ^= 1;
	assert_int_equal(store_blob_get(f->s, sha, &out, &len),
	    VIGIL_ENOTFOUND);
}

static void
test_store_refvals_old_version_stays_readable(void **state)
{
	struct fx *f = *state;
	int64_t v1, v2;
	char *doc;

	assert_int_equal(store_refvals_put(f->s, "{\"a\":1}", "op", &v1), 0);
	assert_int_equal(store_refvals_put(f->s, "{\"a\":2}", "op", &v2), 0);
	assert_int_equal(store_refvals_get_version(f->s, v1, &doc), 0);
	assert_string_equal(doc, "{\"a\":1}");
	free(doc);
	assert_int_equal(store_refvals_get_version(f->s, v2 + 1, &doc),
	    VIGIL_ENOTFOUND);
	assert_null(doc);
}

static void
test_store_audit_lists_newest_first(void **state)
{
	struct fx *f = *state;
	struct audit_row *rows;
	int64_t before;
	size_t n;

	assert_int_equal(store_audit(f->s, "op", "token.add", "t1", NULL), 0);
	assert_int_equal(store_audit(f->s, "op", "token.revoke", "t1", "x"),
	    0);
	assert_int_equal(store_audit(f->s, "op", "re-enrol", "n1", ""), 0);
	assert_int_equal(store_audit_list(f->s, 0, 2, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].action, "re-enrol");
	assert_string_equal(rows[1].action, "token.revoke");
	assert_string_equal(rows[1].detail, "x");
	assert_true(rows[0].at > 0);
	before = rows[1].id;
	audit_rows_free(rows, n);
	assert_int_equal(store_audit_list(f->s, before, 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].action, "token.add");
	assert_string_equal(rows[0].detail, "");
	audit_rows_free(rows, n);
	assert_int_equal(store_audit(f->s, NULL, "x", "y", NULL),
	    VIGIL_EINVAL);
}

static void
test_store_lists_stale_nodes(void **state)
{
	struct fx *f = *state;
	struct appraisal a = { "affirming", "{}", "[]", 100 };
	struct quote_state qs = { 1, 0, 0, 1, 500 };
	struct evidence_commit c = { 0 };
	struct evidence_result res = { 0 };
	struct agent_rec pend;
	char a_id[65], b_id[65], c_id[65], (*ids)[65];
	size_t n;

	add_active_agent(f->s, 'a', a_id);	/* fresh quote at 500 */
	add_active_agent(f->s, 'b', b_id);	/* no quote at all */
	add_active_agent(f->s, 'c', c_id);	/* already none */
	mkagent(&pend, 'd');			/* pending: not a node yet */
	assert_int_equal(store_agent_register(f->s, &pend, NULL), 0);
	c.agent_id = a_id;
	c.qs = &qs;
	c.appraisal = &a;
	assert_int_equal(store_commit_evidence(f->s, &c, &res), 0);
	assert_int_equal(store_appraisal_add(f->s, b_id, &a), 0);
	assert_int_equal(store_nodes_stale(f->s, 400, "", 10, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], b_id);
	free(ids);
	assert_int_equal(store_nodes_stale(f->s, 600, "", 10, &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], a_id);
	assert_string_equal(ids[1], b_id);
	free(ids);
	assert_int_equal(store_nodes_stale(f->s, 600, a_id, 10, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], b_id);
	free(ids);
}

static void
test_store_prune_drops_old_bundles_and_appraisals_keeps_latest(void **state)
{
	struct fx *f = *state;
	struct appraisal a = { "affirming", "{}", "[]", 10 };
	struct evidence_commit c = { 0 };
	struct evidence_result res = { 0 };
	enum item_outcome oc[1];
	struct item_in it[1];
	struct appraisal_row row;
	size_t deleted;
	char id[65];

	add_active_agent(f->s, 'a', id);
	item(&it[0], 1, 1, "I1");
	c.agent_id = id;
	c.items = it;
	c.n_items = 1;
	res.outcomes = oc;
	c.bundle = (const uint8_t *)"B1";
	c.bundle_len = 2;
	assert_int_equal(store_commit_evidence(f->s, &c, &res), 0);
	c.bundle = (const uint8_t *)"I1";	/* same bytes as the item */
	assert_int_equal(store_commit_evidence(f->s, &c, &res), 0);
	assert_int_equal(store_appraisal_add(f->s, id, &a), 0);
	snprintf(a.status, sizeof(a.status), "warning");
	a.at = 20;
	assert_int_equal(store_appraisal_add(f->s, id, &a), 0);
	snprintf(a.status, sizeof(a.status), "none");
	a.at = 30;
	assert_int_equal(store_appraisal_add(f->s, id, &a), 0);

	assert_int_equal(store_prune(f->s, (int64_t)time(NULL) + 100, 100,
	    &deleted), 0);
	assert_int_equal(deleted, 4);
	assert_int_equal(count(f, "SELECT count(*) FROM bundles"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM blobs WHERE data = "
	    "CAST('B1' AS BLOB)"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM blobs WHERE data = "
	    "CAST('I1' AS BLOB)"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM items"), 1);
	assert_int_equal(store_appraisal_latest(f->s, id, &row), 0);
	assert_string_equal(row.a.status, "none");
	appraisal_row_clear(&row);
	assert_int_equal(count(f, "SELECT count(*) FROM appraisals"), 1);
	assert_int_equal(store_prune(f->s, (int64_t)time(NULL) + 100, 100,
	    &deleted), 0);
	assert_int_equal(deleted, 0);
}

#define WRITERS 8
#define WRITES 200

static void *
writer_thread(void *arg)
{
	struct store *s = arg;
	char obj[32];
	intptr_t bad = 0;
	int i;

	for (i = 0; i < WRITES; i++) {
		snprintf(obj, sizeof(obj), "%p/%d", (void *)&obj, i);
		if (store_audit(s, "test", "write", obj, NULL) != 0)
			bad++;
	}
	return (void *)bad;
}

static void
test_store_group_commit_batches_concurrent_writes(void **state)
{
	struct fx *f = *state;
	pthread_t t[WRITERS];
	struct store_stats st;
	void *bad;
	int i;

	for (i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer_thread,
		    f->s), 0);
	for (i = 0; i < WRITERS; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
	assert_int_equal(count(f, "SELECT count(*) FROM audit"),
	    WRITERS * WRITES);
	store_stats(f->s, &st);
	assert_true(st.jobs >= WRITERS * WRITES);
	assert_true(st.commits < st.jobs);
	assert_true(st.max_batch > 1);
	assert_int_equal(st.job_failures, 0);
	assert_int_equal(st.queued, 0);
	assert_int_equal(store_ping(f->s), 0);
}

struct tok_arg {
	struct store *s;
	uint8_t hash[SHA256_LEN];
	int rc;
};

static void *
token_thread(void *arg)
{
	struct tok_arg *a = arg;

	a->rc = store_token_add(a->s, a->hash, "operator", "", "t");
	return NULL;
}

/* Waits until the writer shows running + queued jobs; 0 if it did. */
static int
wait_writer(struct store *s, uint64_t running, uint64_t queued)
{
	struct store_stats st;
	int tries;

	for (tries = 0; tries < 300; tries++) {
		store_stats(s, &st);
		if (st.running == running && st.queued == queued)
			return 0;
		usleep(10000);
	}
	return -1;
}

static void
test_store_failing_job_does_not_sink_its_batch(void **state)
{
	struct fx *f = *state;
	struct store_stats before, after;
	struct tok_arg a[6];
	struct token_rec rec;
	pthread_t t[6];
	sqlite3 *db = NULL;
	uint8_t dup[SHA256_LEN];
	int i;

	memset(dup, 0xee, SHA256_LEN);
	assert_int_equal(store_token_add(f->s, dup, "operator", "", "first"),
	    0);
	store_stats(f->s, &before);
	/* Hold the write lock: the writer blocks in BEGIN IMMEDIATE with a
	 * batch of one job, and the next five queue up as one batch. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	for (i = 0; i < 6; i++) {
		a[i].s = f->s;
		/* Jobs 1, 3, 5 collide with an existing token. */
		memset(a[i].hash, i % 2 == 1 ? 0xee : 0x10 + i, SHA256_LEN);
		assert_int_equal(pthread_create(&t[i], NULL, token_thread,
		    &a[i]), 0);
		if (i == 0)
			assert_int_equal(wait_writer(f->s, 1, 0), 0);
	}
	assert_int_equal(wait_writer(f->s, 1, 5), 0);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	for (i = 0; i < 6; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (i = 0; i < 6; i++) {
		if (i % 2 == 1) {
			assert_int_equal(a[i].rc, VIGIL_EEXIST);
		} else {
			assert_int_equal(a[i].rc, 0);
			assert_int_equal(store_token_lookup(f->s, a[i].hash,
			    &rec), 0);
		}
	}
	store_stats(f->s, &after);
	assert_int_equal(after.commits - before.commits, 2);
	assert_int_equal(after.max_batch, 5);
	assert_int_equal(after.job_failures - before.job_failures, 3);
	assert_int_equal(after.commit_failures, 0);
	assert_int_equal(count(f, "SELECT count(*) FROM tokens"), 4);
}

static void
test_store_data_survives_close_and_reopen(void **state)
{
	struct fx *f = *state;
	struct evidence_result res;
	enum item_outcome oc[1];
	struct item_in it[1];
	struct token_rec t;
	uint8_t h[SHA256_LEN];
	char id[65], *doc;
	int64_t v;

	add_active_agent(f->s, 'a', id);
	item(&it[0], 9, 1, "kept");
	assert_int_equal(push(f->s, id, it, 1, oc, &res), 0);
	memset(h, 7, sizeof(h));
	assert_int_equal(store_token_add(f->s, h, "tenant", "t1", ""), 0);
	assert_int_equal(store_refvals_put(f->s, "{}", "op", &v), 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(push(f->s, id, it, 1, oc, &res), 0);
	assert_int_equal(oc[0], ITEM_DUPLICATE);
	assert_int_equal(res.acked_seq, 1);
	assert_int_equal(store_token_lookup(f->s, h, &t), 0);
	assert_string_equal(t.tenant, "t1");
	assert_int_equal(store_refvals_get(f->s, &doc, &v), 0);
	free(doc);
}

static void
test_store_refuses_malformed_evidence(void **state)
{
	struct fx *f = *state;
	struct evidence_result res;
	enum item_outcome oc[1];
	struct item_in it[1];
	char id[65];

	add_active_agent(f->s, 'a', id);
	item(&it[0], 1, 0, "seq zero");
	assert_int_equal(push(f->s, id, it, 1, oc, &res), VIGIL_EINVAL);
	item(&it[0], 1, 1, "x");
	assert_int_equal(push(f->s, id, it, 1, NULL, &res), VIGIL_EINVAL);
	assert_int_equal(count(f, "SELECT count(*) FROM items"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_store_registers_and_activates_agent),
		T(test_store_refuses_ak_registered_to_another_agent),
		T(test_store_refuses_reregistering_active_agent),
		T(test_store_reregistration_changes_nothing_until_activated),
		T(test_store_waiting_registrations_are_bounded),
		T(test_store_ek_key_and_cert_belong_to_one_active_agent),
		T(test_store_agents_by_hostname_active_only),
		T(test_store_approved_reenrol_replaces_keys_once),
		T(test_store_duplicate_item_is_acknowledged_not_stored_twice),
		T(test_store_same_key_other_content_is_flagged_conflict),
		T(test_store_acks_only_contiguous_seq),
		T(test_store_acks_newest_epoch_of_push),
		T(test_store_event_log_chunks_append_only_at_the_end),
		T(test_store_unchanged_appraisal_only_moves_last_at),
		T(test_store_evidence_commit_stores_quote_state_and_appraisal),
		T(test_store_lists_nodes_after_cursor),
		T(test_store_refvals_versions_increase),
		T(test_store_token_lookup_and_revoked_is_denied),
		T(test_store_blobs_are_content_addressed),
		T(test_store_refvals_old_version_stays_readable),
		T(test_store_audit_lists_newest_first),
		T(test_store_lists_stale_nodes),
		T(test_store_prune_drops_old_bundles_and_appraisals_keeps_latest),
		T(test_store_group_commit_batches_concurrent_writes),
		T(test_store_failing_job_does_not_sink_its_batch),
		T(test_store_data_survives_close_and_reopen),
		T(test_store_refuses_malformed_evidence),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
