/* store_smm: SMM pins and chain state, accepted entries, the key-use
 * index, wrapped keys and reference sets (db/migrations/0004_smm.sql,
 * 0011: taints per region, key ids per tenant). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "verifier/store.h"
#include "verifier/store_smm.h"

struct fx {
	char dir[64];
	char path[96];
	struct store *s;
	char id[65];
};

static uint8_t ek[] = { 0, 4, 1, 2, 3, 4 };
static uint8_t ak[] = { 0, 4, 9, 9, 9, 9 };
static uint8_t ek2[] = { 0, 4, 5, 6, 7, 8 };
static uint8_t ak2[] = { 0, 4, 8, 8, 8, 8 };

/* A second active node, id "bbbb...". */
static void
add_node_b(struct fx *f, char id[65])
{
	struct agent_rec a;

	memset(&a, 0, sizeof(a));
	memset(a.id, 'b', 64);
	snprintf(a.hostname, sizeof(a.hostname), "node-b");
	a.ek_pub = ek2;
	a.ek_pub_len = sizeof(ek2);
	a.ak_pub = ak2;
	a.ak_pub_len = sizeof(ak2);
	a.ak_name[1] = 0x0b;
	memset(a.ak_name + 2, 'b', 32);
	a.ak_name_len = 34;
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(store_agent_activate(f->s, a.id, a.secret_hash, NULL,
	    NULL), 0);
	memcpy(id, a.id, 65);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct agent_rec a;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-store-smm.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/v.db", f->dir);
	assert_int_equal(store_open(f->path, &f->s), 0);
	memset(&a, 0, sizeof(a));
	memset(a.id, 'a', 64);
	snprintf(a.hostname, sizeof(a.hostname), "node-a");
	a.ek_pub = ek;
	a.ek_pub_len = sizeof(ek);
	a.ak_pub = ak;
	a.ak_pub_len = sizeof(ak);
	a.ak_name[1] = 0x0b;
	memset(a.ak_name + 2, 'a', 32);
	a.ak_name_len = 34;
	assert_int_equal(store_agent_register(f->s, &a, NULL), 0);
	assert_int_equal(store_agent_activate(f->s, a.id, a.secret_hash, NULL, NULL), 0);
	memcpy(f->id, a.id, sizeof(f->id));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];

	store_close(f->s);
	snprintf(p, sizeof(p), "%s/v.db", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/v.db-wal", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/v.db-shm", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
pins(struct smm_pins *p, uint64_t seq)
{
	memset(p, 0, sizeof(*p));
	p->have = 1;
	memset(p->image, 1, sizeof(p->image));
	memset(p->log_pub, 2, 91);
	p->log_pub_len = 91;
	memset(p->wrap_pub, 3, 91);
	p->wrap_pub_len = 91;
	p->seq = seq;
	memset(p->head, (int)seq, sizeof(p->head));
}

/* A KEY_USE entry for tenant's key "k1" with seq; tenant NULL: a
 * version-1 entry (no tenant), as a vigil-smmd with one key namespace
 * wrote them. */
static void
tkey_entry(struct buf *b, const char *tenant, uint64_t seq, int granted)
{
	struct smmlog_entry e;

	b->len = 0;
	if (tenant == NULL) {
		assert_int_equal(buf_add_u8(b, SMMLOG_VERSION_V1), 0);
		assert_int_equal(buf_add_u8(b, SMMLOG_KIND_KEY_USE), 0);
		assert_int_equal(buf_add_u64le(b, seq), 0);
		assert_int_equal(buf_add_u64le(b, 5), 0);
		assert_int_equal(buf_add(b, "\x02k1\x02", 4), 0);
		assert_int_equal(buf_add_u32le(b, 0), 0);
		assert_int_equal(buf_add_u8(b, (uint8_t)granted), 0);
		assert_int_equal(buf_add_u8(b, granted ? 0 : 7), 0);
		assert_int_equal(buf_add_u64le(b, 0), 0);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.kind = SMMLOG_KIND_KEY_USE;
	e.seq = seq;
	e.time_ms = 5;
	e.u.k.tenant = tenant;
	e.u.k.tenant_len = strlen(tenant);
	e.u.k.key_id = "k1";
	e.u.k.key_id_len = 2;
	e.u.k.op = 2;
	e.u.k.granted = (uint8_t)granted;
	e.u.k.status = granted ? 0 : 7;
	assert_int_equal(smmlog_entry_encode(&e, b), 0);
}

static void
key_entry(struct buf *b, uint64_t seq, int granted)
{
	tkey_entry(b, "acme", seq, granted);
}

static void
test_store_smm_pins_round_trip_and_update(void **state)
{
	struct fx *f = *state;
	struct smm_pins p, got;

	assert_int_equal(store_smm_pins_get(f->s, f->id, &got),
	    VIGIL_ENOTFOUND);
	pins(&p, 0);
	p.n_taints = 1;
	snprintf(p.taints[0].target, sizeof(p.taints[0].target), "hv");
	snprintf(p.taints[0].region, sizeof(p.taints[0].region), "r");
	snprintf(p.taints[0].reason, sizeof(p.taints[0].reason),
	    "page(s) 2 changed");
	assert_int_equal(store_smm_commit(f->s, f->id, &p, NULL, NULL, NULL,
	    0), 0);
	assert_int_equal(store_smm_pins_get(f->s, f->id, &got), 0);
	assert_true(got.have);
	assert_memory_equal(got.log_pub, p.log_pub, 91);
	assert_int_equal(got.wrap_pub_len, 91);
	assert_int_equal(got.n_taints, 1);
	assert_string_equal(got.taints[0].reason, "page(s) 2 changed");
	/* An update moves the chain state; the pinned keys stay. */
	pins(&p, 7);
	memset(p.log_pub, 9, 91);
	p.gaps = 2;
	assert_int_equal(store_smm_commit(f->s, f->id, &p, NULL, NULL, NULL,
	    0), 0);
	assert_int_equal(store_smm_pins_get(f->s, f->id, &got), 0);
	assert_int_equal(got.seq, 7);
	assert_int_equal(got.gaps, 2);
	assert_int_equal(got.log_pub[0], 2);
	assert_int_equal(got.n_taints, 0);
	assert_string_equal(got.overflow, "");
}

/* Taints are per (target, region), kept in order, with the overflow
 * beside them; re-enrolment drops them with the pins. */
static void
test_store_smm_taints_per_region_round_trip(void **state)
{
	struct fx *f = *state;
	struct smm_pins p, got;
	int i;

	pins(&p, 4);
	for (i = 0; i < 3; i++) {
		snprintf(p.taints[i].target, sizeof(p.taints[i].target),
		    "hv");
		snprintf(p.taints[i].region, sizeof(p.taints[i].region),
		    "%c", "zab"[i]);
		snprintf(p.taints[i].reason, sizeof(p.taints[i].reason),
		    "region %c changed", "zab"[i]);
	}
	p.n_taints = 3;
	snprintf(p.overflow, sizeof(p.overflow), "too many");
	assert_int_equal(store_smm_commit(f->s, f->id, &p, NULL, NULL, NULL,
	    0), 0);
	assert_int_equal(store_smm_pins_get(f->s, f->id, &got), 0);
	assert_int_equal(got.n_taints, 3);
	assert_string_equal(got.taints[0].region, "z");
	assert_string_equal(got.taints[1].region, "a");
	assert_string_equal(got.taints[2].reason, "region b changed");
	assert_string_equal(got.overflow, "too many");
	/* One region cleared: only its row goes. */
	p.taints[0] = p.taints[2];
	p.n_taints = 2;
	assert_int_equal(store_smm_commit(f->s, f->id, &p, NULL, NULL, NULL,
	    0), 0);
	assert_int_equal(store_smm_pins_get(f->s, f->id, &got), 0);
	assert_int_equal(got.n_taints, 2);
	assert_string_equal(got.taints[0].region, "b");
	assert_string_equal(got.taints[1].region, "a");
	assert_int_equal(store_agent_approve_reenrol(f->s, f->id), 0);
	assert_int_equal(store_smm_pins_get(f->s, f->id, &got),
	    VIGIL_ENOTFOUND);
	pins(&p, 0);
	assert_int_equal(store_smm_commit(f->s, f->id, &p, NULL, NULL, NULL,
	    0), 0);
	assert_int_equal(store_smm_pins_get(f->s, f->id, &got), 0);
	assert_int_equal(got.n_taints, 0);
}

/* After a TPM clear the operator approves re-enrolment: the SMM keys the
 * node makes next are pinned anew. */
static void
test_store_smm_pins_dropped_by_reenrolment(void **state)
{
	struct fx *f = *state;
	struct smm_pins p, got;

	pins(&p, 3);
	assert_int_equal(store_smm_commit(f->s, f->id, &p, NULL, NULL, NULL,
	    0), 0);
	assert_int_equal(store_smm_pins_get(f->s, f->id, &got), 0);
	assert_int_equal(store_agent_approve_reenrol(f->s, f->id), 0);
	assert_int_equal(store_smm_pins_get(f->s, f->id, &got),
	    VIGIL_ENOTFOUND);
}

static void
test_store_smm_entries_and_key_uses(void **state)
{
	struct fx *f = *state;
	struct buf b[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	const uint8_t *ep[3];
	size_t el[3], n, i;
	uint64_t es[3] = { 1, 2, 3 };
	struct smm_log_row *rows = NULL;
	struct smm_pins p;
	uint8_t *got = NULL;
	size_t glen;

	for (i = 0; i < 3; i++) {
		key_entry(&b[i], i + 1, i != 2);
		ep[i] = b[i].data;
		el[i] = b[i].len;
	}
	pins(&p, 3);
	assert_int_equal(store_smm_commit(f->s, f->id, &p, ep, el, es, 3), 0);
	/* Stored again: left as it is. */
	assert_int_equal(store_smm_commit(f->s, f->id, &p, ep, el, es, 3), 0);
	assert_int_equal(store_smm_entry_get(f->s, f->id, 2, &got, &glen), 0);
	assert_int_equal(glen, el[1]);
	assert_memory_equal(got, ep[1], glen);
	free(got);
	assert_int_equal(store_smm_entry_get(f->s, f->id, 9, &got, &glen),
	    VIGIL_ENOTFOUND);
	assert_int_equal(store_smm_log_page(f->s, f->id, 1, 256, &rows, &n),
	    0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].seq, 2);
	store_smm_rows_free(rows, n);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "acme", "k1", 0, 2,
	    &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[1].seq, 2);
	store_smm_rows_free(rows, n);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "globex", "k1", 0,
	    10, &rows, &n), 0);
	assert_int_equal(n, 0);
	store_smm_rows_free(rows, n);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "acme", "k2", 0, 10,
	    &rows, &n), 0);
	assert_int_equal(n, 0);
	store_smm_rows_free(rows, n);
	assert_int_equal(store_smm_log_page(f->s, f->id, 0, 0, &rows, &n),
	    VIGIL_EINVAL);
	for (i = 0; i < 3; i++)
		buf_free(&b[i]);
}

static void
test_store_smm_keys_pending_until_delivered(void **state)
{
	struct fx *f = *state;
	struct smm_key_rec k;
	uint8_t blob[4] = { 1, 2, 3, 4 }, *blobs[4];
	size_t lens[4], n;
	char ids[4][65], tenants[4][65];

	assert_int_equal(store_smm_key_add(f->s, "k1", "acme", f->id, blob,
	    sizeof(blob)), 0);
	assert_int_equal(store_smm_key_add(f->s, "k1", "acme", f->id, blob,
	    sizeof(blob)), VIGIL_EEXIST);
	assert_int_equal(store_smm_key_get(f->s, "acme", "k1", &k), 0);
	assert_string_equal(k.tenant, "acme");
	assert_string_equal(k.agent_id, f->id);
	assert_int_equal(store_smm_key_add(f->s, "k1", "globex", f->id, blob,
	    sizeof(blob)), 0);
	assert_int_equal(store_smm_keys_pending(f->s, f->id, 4, blobs, lens,
	    tenants, ids, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "k1");
	assert_string_equal(tenants[0], "acme");
	assert_string_equal(tenants[1], "globex");
	assert_memory_equal(blobs[0], blob, sizeof(blob));
	free(blobs[0]);
	free(blobs[1]);
	/* Delivered is per (tenant, id): globex's k1 is still pending. */
	assert_int_equal(store_smm_key_delivered(f->s, f->id, "acme", "k1"),
	    0);
	assert_int_equal(store_smm_keys_pending(f->s, f->id, 4, blobs, lens,
	    tenants, ids, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tenants[0], "globex");
	free(blobs[0]);
	assert_int_equal(store_smm_key_delivered(f->s, f->id, "globex", "k1"),
	    0);
	assert_int_equal(store_smm_keys_pending(f->s, f->id, 4, blobs, lens,
	    tenants, ids, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_smm_key_get(f->s, "acme", "nope", &k),
	    VIGIL_ENOTFOUND);
}

/* Key ids are per tenant: another tenant's same id, on another node or
 * on the same one (its SMM service names keys by (tenant, id)), is its
 * own key, and neither sees the other's. */
static void
test_store_smm_key_ids_are_per_tenant(void **state)
{
	struct fx *f = *state;
	struct smm_key_rec k;
	uint8_t blob[4] = { 1, 2, 3, 4 };
	char b[65];

	add_node_b(f, b);
	assert_int_equal(store_smm_key_add(f->s, "k1", "acme", f->id, blob,
	    sizeof(blob)), 0);
	assert_int_equal(store_smm_key_get(f->s, "globex", "k1", &k),
	    VIGIL_ENOTFOUND);
	assert_int_equal(store_smm_key_add(f->s, "k1", "globex", b, blob,
	    sizeof(blob)), 0);
	assert_int_equal(store_smm_key_get(f->s, "globex", "k1", &k), 0);
	assert_string_equal(k.agent_id, b);
	assert_int_equal(store_smm_key_get(f->s, "acme", "k1", &k), 0);
	assert_string_equal(k.agent_id, f->id);
	assert_int_equal(store_smm_key_add(f->s, "k1", "initech", f->id,
	    blob, sizeof(blob)), 0);
	assert_int_equal(store_smm_key_get(f->s, "initech", "k1", &k), 0);
	assert_string_equal(k.agent_id, f->id);
	assert_int_equal(store_smm_key_on_node(f->s, f->id, "initech", "k1",
	    &k), 0);
	assert_string_equal(k.tenant, "initech");
	assert_int_equal(store_smm_key_on_node(f->s, f->id, "acme", "k1",
	    &k), 0);
	assert_string_equal(k.tenant, "acme");
	assert_int_equal(store_smm_key_on_node(f->s, f->id, "globex", "k1",
	    &k), VIGIL_ENOTFOUND);
	/* No tenant named (a version-1 entry): two holders, none is it. */
	assert_int_equal(store_smm_key_on_node(f->s, f->id, NULL, "k1", &k),
	    VIGIL_ENOTFOUND);
	assert_int_equal(store_smm_key_on_node(f->s, b, NULL, "k1", &k), 0);
	assert_string_equal(k.tenant, "globex");
}

/* Two tenants' k1 on one node: each audit lists its own tenant's uses
 * only. */
static void
test_store_smm_key_uses_per_tenant_on_one_node(void **state)
{
	struct fx *f = *state;
	struct buf e[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	const char *who[3] = { "acme", "globex", "acme" };
	const uint8_t *ep[3];
	size_t el[3], n, i;
	uint64_t es[3] = { 1, 2, 3 };
	struct smm_log_row *rows = NULL;
	struct smm_pins p;
	uint8_t blob[4] = { 1, 2, 3, 4 };

	assert_int_equal(store_smm_key_add(f->s, "k1", "acme", f->id, blob,
	    sizeof(blob)), 0);
	assert_int_equal(store_smm_key_add(f->s, "k1", "globex", f->id, blob,
	    sizeof(blob)), 0);
	for (i = 0; i < 3; i++) {
		tkey_entry(&e[i], who[i], i + 1, 1);
		ep[i] = e[i].data;
		el[i] = e[i].len;
	}
	pins(&p, 3);
	assert_int_equal(store_smm_commit(f->s, f->id, &p, ep, el, es, 3), 0);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "acme", "k1", 0, 256,
	    &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].seq, 1);
	assert_int_equal(rows[1].seq, 3);
	store_smm_rows_free(rows, n);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "globex", "k1", 0,
	    256, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].seq, 2);
	store_smm_rows_free(rows, n);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "", "k1", 0, 256,
	    &rows, &n), VIGIL_EINVAL);
	for (i = 0; i < 3; i++)
		buf_free(&e[i]);
}

/* A version-1 entry names no tenant: it is the node's only holder of
 * the id's, and nobody's once two tenants hold it. */
static void
test_store_smm_v1_entries_go_to_the_only_holder(void **state)
{
	struct fx *f = *state;
	struct buf e[2] = { BUF_INIT, BUF_INIT };
	const uint8_t *ep[2];
	size_t el[2], n;
	uint64_t es[2] = { 1, 2 };
	struct smm_log_row *rows = NULL;
	struct smm_pins p;
	uint8_t blob[4] = { 1, 2, 3, 4 };

	assert_int_equal(store_smm_key_add(f->s, "k1", "acme", f->id, blob,
	    sizeof(blob)), 0);
	tkey_entry(&e[0], NULL, 1, 1);
	tkey_entry(&e[1], NULL, 2, 0);
	ep[0] = e[0].data;
	el[0] = e[0].len;
	ep[1] = e[1].data;
	el[1] = e[1].len;
	pins(&p, 1);
	assert_int_equal(store_smm_commit(f->s, f->id, &p, ep, el, es, 1), 0);
	assert_int_equal(store_smm_key_add(f->s, "k1", "globex", f->id, blob,
	    sizeof(blob)), 0);
	pins(&p, 2);
	assert_int_equal(store_smm_commit(f->s, f->id, &p, ep + 1, el + 1,
	    es + 1, 1), 0);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "acme", "k1", 0, 256,
	    &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].seq, 1);
	store_smm_rows_free(rows, n);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "globex", "k1", 0,
	    256, &rows, &n), 0);
	assert_int_equal(n, 0);
	store_smm_rows_free(rows, n);
	/* Still in the node's log for operators. */
	assert_int_equal(store_smm_log_page(f->s, f->id, 0, 256, &rows, &n),
	    0);
	assert_int_equal(n, 2);
	store_smm_rows_free(rows, n);
	buf_free(&e[0]);
	buf_free(&e[1]);
}

/* A node logging uses under another node's key id: not in the audit of
 * the key, which reads only its own node's log. */
static void
test_store_smm_key_uses_only_from_the_keys_node(void **state)
{
	struct fx *f = *state;
	struct buf e[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	const uint8_t *ep[3];
	size_t el[3], n, i;
	uint64_t es[3] = { 1, 2, 3 };
	struct smm_log_row *rows = NULL;
	struct smm_pins p;
	char b[65];

	add_node_b(f, b);
	for (i = 0; i < 3; i++) {
		key_entry(&e[i], i + 1, 1);
		ep[i] = e[i].data;
		el[i] = e[i].len;
	}
	pins(&p, 1);
	assert_int_equal(store_smm_commit(f->s, f->id, &p, ep, el, es, 1), 0);
	pins(&p, 3);
	assert_int_equal(store_smm_commit(f->s, b, &p, ep, el, es, 3), 0);
	assert_int_equal(store_smm_key_uses(f->s, f->id, "acme", "k1", 0, 256,
	    &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].agent_id, f->id);
	assert_int_equal(rows[0].seq, 1);
	store_smm_rows_free(rows, n);
	assert_int_equal(store_smm_key_uses(f->s, b, "acme", "k1", 0, 256,
	    &rows, &n), 0);
	assert_int_equal(n, 3);
	store_smm_rows_free(rows, n);
	for (i = 0; i < 3; i++)
		buf_free(&e[i]);
}

static void
test_store_smm_refsets_newest_first(void **state)
{
	struct fx *f = *state;
	uint8_t d1[32], d2[32], sig[3] = { 7, 7, 7 }, *gs;
	uint8_t (*dg)[SMMLOG_HASH_LEN] = NULL;
	uint64_t v;
	size_t n, sl;
	char *json;

	assert_int_equal(store_smm_refset_latest(f->s, &v, &json, &gs, &sl),
	    VIGIL_ENOTFOUND);
	memset(d1, 1, sizeof(d1));
	memset(d2, 2, sizeof(d2));
	assert_int_equal(store_smm_refset_add(f->s, 1, "{\"version\": 1}",
	    sig, sizeof(sig), d1), 0);
	assert_int_equal(store_smm_refset_add(f->s, 2, "{\"version\": 2}",
	    sig, sizeof(sig), d2), 0);
	assert_int_equal(store_smm_refset_add(f->s, 0, "{}", sig,
	    sizeof(sig), d2), VIGIL_EINVAL);
	assert_int_equal(store_smm_refset_latest(f->s, &v, &json, &gs, &sl),
	    0);
	assert_int_equal(v, 2);
	assert_string_equal(json, "{\"version\": 2}");
	assert_int_equal(sl, 3);
	free(json);
	free(gs);
	assert_int_equal(store_smm_refset_digests(f->s, &dg, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(dg[0], d2, 32);
	assert_memory_equal(dg[1], d1, 32);
	free(dg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_store_smm_pins_round_trip_and_update, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_pins_dropped_by_reenrolment, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_entries_and_key_uses, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_keys_pending_until_delivered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_refsets_newest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_taints_per_region_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_key_ids_are_per_tenant, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_key_uses_only_from_the_keys_node, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_key_uses_per_tenant_on_one_node, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_smm_v1_entries_go_to_the_only_holder, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
