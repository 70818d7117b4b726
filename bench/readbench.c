/* vigil-readbench: read-route latency of the verifier with a large store.
 *
 *   vigil-readbench fill --db PATH [--nodes N] [--appraisals M]
 *       Creates the store (migrations through the store API, and one
 *       operator token through tokens_create, printed as "token=..."),
 *       then fills it SYNTHETICALLY: N active nodes and M appraisal rows
 *       spread evenly over them, written straight into the SQLite tables
 *       in large transactions (the store API commits one job at a time
 *       and would take far longer). The rows have the shapes the verifier
 *       writes (status, vector, reasons, first/last times, quote state),
 *       but no evidence bundles, items or event logs behind them.
 *
 *   vigil-readbench measure --db PATH --url URL --token T [--nodes N]
 *                           [--duration S]
 *       Against a verifier serving PATH, one keep-alive client measures
 *       p50/p99 of GET /v1/nodes/{id} (random node) and GET
 *       /v1/nodes?limit=100 (random cursor), and, interleaved in the same
 *       loop, the machine's ceilings for the same work: the same store
 *       reads done in this process through the store API (what the
 *       handler calls, without HTTP or JSON) and GET /healthz over the
 *       same connection (the server's floor). Each figure is printed with
 *       its ratio to the ceilings.
 *
 * Node ids are SHA-256("vigil-readbench node I") in hex, so both modes
 * agree on them without sharing a file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "verifier/store.h"
#include "verifier/tokens.h"

#define RB_MAX_BODY (4u << 20)

static double
rb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
rb_node_id(long i, char out[65])
{
	static const char hx[] = "0123456789abcdef";
	char in[64];
	uint8_t d[32];
	unsigned n;
	int k;

	snprintf(in, sizeof(in), "vigil-readbench node %ld", i);
	EVP_Digest(in, strlen(in), d, &n, EVP_sha256(), NULL);
	for (k = 0; k < 32; k++) {
		out[2 * k] = hx[d[k] >> 4];
		out[2 * k + 1] = hx[d[k] & 15];
	}
	out[64] = '\0';
}

static int
rb_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("readbench: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return VIGIL_EDB;
	}
	return 0;
}

/* ---- fill ---- */

static int
rb_fill_rows(sqlite3 *db, long nodes, long appraisals)
{
	static const char *const st[] = { "affirming", "warning",
		"affirming", "contraindicated" };
	static const char vec[] = "{\"configuration\":2,\"executables\":2,"
	    "\"hardware\":2,\"instance-identity\":2}";
	sqlite3_stmt *ag = NULL, *ap = NULL, *qs = NULL;
	int64_t now = (int64_t)time(NULL);
	long per, i, k, done = 0;
	uint8_t blob[34];
	char id[65];
	int e = VIGIL_EDB;

	per = appraisals / nodes;
	if (sqlite3_prepare_v2(db, "INSERT INTO agents (id, hostname, state, "
	    "ek_pub, ak_pub, ak_name, secret_hash, created_at, updated_at, "
	    "status, last_appraisal_at, last_seen_at) VALUES (?, ?, 1, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?)", -1, &ag, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO appraisals (agent_id, status, "
	    "vector_json, reasons_json, first_at, last_at) VALUES (?, ?, ?, "
	    "?, ?, ?)", -1, &ap, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO quote_state (agent_id, clock, "
	    "reset_count, restart_count, safe, at) VALUES (?, 1000, 1, 0, 1, "
	    "?)", -1, &qs, NULL) != SQLITE_OK) {
		log_err("readbench: prepare: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (rb_exec(db, "BEGIN") != 0)
		goto out;
	for (i = 0; i < nodes; i++) {
		long n = per + (i < appraisals % nodes ? 1 : 0);
		char host[32];

		rb_node_id(i, id);
		snprintf(host, sizeof(host), "bench-%06ld", i);
		memset(blob, 0, sizeof(blob));
		blob[0] = 0x00;
		blob[1] = 0x0b;
		memcpy(blob + 2, id, 32);
		sqlite3_reset(ag);
		sqlite3_bind_text(ag, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ag, 2, host, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(ag, 3, "ek", 2, SQLITE_STATIC);
		sqlite3_bind_blob(ag, 4, "ak", 2, SQLITE_STATIC);
		sqlite3_bind_blob(ag, 5, blob, sizeof(blob), SQLITE_STATIC);
		sqlite3_bind_blob(ag, 6, blob + 2, 32, SQLITE_STATIC);
		sqlite3_bind_int64(ag, 7, now - 86400);
		sqlite3_bind_int64(ag, 8, now);
		sqlite3_bind_text(ag, 9, st[(n - 1 + 4 + i) % 4], -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(ag, 10, now);
		sqlite3_bind_int64(ag, 11, now);
		if (sqlite3_step(ag) != SQLITE_DONE)
			goto out;
		sqlite3_reset(qs);
		sqlite3_bind_text(qs, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(qs, 2, now);
		if (sqlite3_step(qs) != SQLITE_DONE)
			goto out;
		for (k = 0; k < n; k++) {
			int64_t t = now - 86400 + k * 60;

			sqlite3_reset(ap);
			sqlite3_bind_text(ap, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(ap, 2, st[(k + i) % 4], -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(ap, 3, vec, -1, SQLITE_STATIC);
			sqlite3_bind_text(ap, 4, k % 4 == 0 ? "[]" :
			    "[\"synthetic reason\"]", -1, SQLITE_STATIC);
			sqlite3_bind_int64(ap, 5, t);
			sqlite3_bind_int64(ap, 6, t + 59);
			if (sqlite3_step(ap) != SQLITE_DONE)
				goto out;
			done++;
		}
		/* Commit every ~100 000 rows: big transactions, bounded
		 * WAL. */
		if (done >= 100000 && (i + 1) % 1000 == 0) {
			if (rb_exec(db, "COMMIT") != 0 ||
			    rb_exec(db, "BEGIN") != 0)
				goto out;
			done = 0;
		}
	}
	if (rb_exec(db, "COMMIT") != 0)
		goto out;
	e = 0;
 out:
	if (e != 0 && !sqlite3_get_autocommit(db)) {
		log_err("readbench: insert: %s", sqlite3_errmsg(db));
		rb_exec(db, "ROLLBACK");
	}
	sqlite3_finalize(ag);
	sqlite3_finalize(ap);
	sqlite3_finalize(qs);
	return e;
}

static int
rb_fill(const char *path, long nodes, long appraisals)
{
	char tok[TOKEN_HEX_LEN + 1];
	struct store *s = NULL;
	sqlite3 *db = NULL;
	double t0 = rb_now();
	int e;

	/* The schema and a token through the store API. */
	if ((e = store_open(path, &s)) != 0) {
		fprintf(stderr, "vigil-readbench: cannot open %s: %s\n", path,
		    vigil_strerror(e));
		return e;
	}
	e = tokens_create(s, "operator", NULL, "readbench", tok);
	store_close(s);
	if (e != 0) {
		fprintf(stderr, "vigil-readbench: cannot create a token: %s\n",
		    vigil_strerror(e));
		return e;
	}
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		fprintf(stderr, "vigil-readbench: sqlite3_open %s: %s\n", path,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return VIGIL_EDB;
	}
	sqlite3_busy_timeout(db, 5000);
	if ((e = rb_exec(db, "PRAGMA synchronous = OFF")) == 0)
		e = rb_fill_rows(db, nodes, appraisals);
	if (e == 0)
		e = rb_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	if (e != 0)
		return e;
	printf("filled: %ld nodes, %ld appraisals (synthetic rows) in %.1f s\n",
	    nodes, appraisals, rb_now() - t0);
	printf("token=%s\n", tok);
	return 0;
}

/* ---- measure ---- */

struct rb_series {
	double *v;
	size_t n, cap;
	double p50, p99;
};

static int
rb_add(struct rb_series *s, double x)
{
	double *nv;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		if ((nv = realloc(s->v, s->cap * sizeof(double))) == NULL)
			return VIGIL_ENOMEM;
		s->v = nv;
	}
	s->v[s->n++] = x;
	return 0;
}

static int
rb_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
rb_pct(struct rb_series *s)
{
	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(double), rb_cmp);
	s->p50 = s->v[s->n / 2];
	s->p99 = s->v[(size_t)((double)s->n * 0.99)];
}

static size_t
rb_sink(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->len + size * n > RB_MAX_BODY || buf_add(b, p, size * n) != 0)
		return 0;
	return size * n;
}

/* One GET on the keep-alive handle; 0 and its duration on HTTP 200. */
static int
rb_get(CURL *h, const char *url, struct buf *body, double *dt)
{
	long status = 0;
	double t0;

	body->len = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	t0 = rb_now();
	if (curl_easy_perform(h) != CURLE_OK)
		return VIGIL_ENET;
	*dt = rb_now() - t0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		log_err("readbench: GET %s: HTTP %ld: %.200s", url, status,
		    body->len ? (const char *)body->data : "");
		return VIGIL_ENET;
	}
	return 0;
}

/* The reads routes_nodes_get makes, straight through the store API. */
static int
rb_store_node(struct store *s, const char *id)
{
	struct appraisal_row ar;
	struct node_row *rows = NULL;
	struct agent_rec a;
	char before[65];
	size_t n = 0;
	int e;

	memset(&a, 0, sizeof(a));
	memset(&ar, 0, sizeof(ar));
	if ((e = store_agent_get(s, id, &a)) != 0)
		return e;
	snprintf(before, sizeof(before), "%.63s", id);
	e = store_nodes_list(s, before, 16, &rows, &n);
	free(rows);
	if (e == 0)
		e = store_appraisal_latest(s, id, &ar);
	appraisal_row_clear(&ar);
	agent_rec_free(&a);
	return e;
}

static int
rb_store_list(struct store *s, const char *after)
{
	struct node_row *rows = NULL;
	size_t n = 0;
	int e;

	e = store_nodes_list(s, after, 100, &rows, &n);
	free(rows);
	return e == 0 && n == 0 ? VIGIL_ENOTFOUND : e;
}

static void
rb_print(const char *what, const struct rb_series *x,
    const struct rb_series *store, const struct rb_series *floor)
{
	printf("%-28s p50 %8.3f ms  p99 %8.3f ms   (n=%zu)\n", what,
	    x->p50 * 1e3, x->p99 * 1e3, x->n);
	if (store != NULL)
		printf("%-28s p50 %8.3f ms  p99 %8.3f ms   ratio HTTP/store "
		    "p50 %.1fx p99 %.1fx\n", "  same reads, store API",
		    store->p50 * 1e3, store->p99 * 1e3,
		    store->p50 > 0 ? x->p50 / store->p50 : 0,
		    store->p99 > 0 ? x->p99 / store->p99 : 0);
	if (floor != NULL)
		printf("%-28s ratio to GET /healthz       p50 %.1fx "
		    "p99 %.1fx\n", "", floor->p50 > 0 ? x->p50 / floor->p50 : 0,
		    floor->p99 > 0 ? x->p99 / floor->p99 : 0);
}

static int
rb_measure(const char *path, const char *url, const char *token,
    long nodes, double duration)
{
	struct rb_series hz, ng, nl, sg, sl;
	struct curl_slist *hdr = NULL;
	struct buf body = BUF_INIT;
	struct store *s = NULL;
	char u[1024], auth[128], id[65], cur[65];
	double end, t0, dt;
	unsigned seed = 12345;
	long i;
	int e = 0;
	CURL *h;

	memset(&hz, 0, sizeof(hz));
	memset(&ng, 0, sizeof(ng));
	memset(&nl, 0, sizeof(nl));
	memset(&sg, 0, sizeof(sg));
	memset(&sl, 0, sizeof(sl));
	if ((e = store_open(path, &s)) != 0) {
		fprintf(stderr, "vigil-readbench: cannot open %s: %s\n", path,
		    vigil_strerror(e));
		return e;
	}
	if ((h = curl_easy_init()) == NULL) {
		store_close(s);
		return VIGIL_ENOMEM;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	hdr = curl_slist_append(hdr, auth);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rb_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	end = rb_now() + duration;
	while (rb_now() < end && e == 0) {
		i = (long)(rand_r(&seed) % (unsigned)nodes);
		rb_node_id(i, id);
		rb_node_id((long)(rand_r(&seed) % (unsigned)nodes), cur);
		/* Cursors from the first half of the id space: full pages. */
		cur[0] = (char)"01234567"[rand_r(&seed) % 8];
		snprintf(u, sizeof(u), "%s/healthz", url);
		if ((e = rb_get(h, u, &body, &dt)) != 0 ||
		    (e = rb_add(&hz, dt)) != 0)
			break;
		snprintf(u, sizeof(u), "%s/v1/nodes/%s", url, id);
		if ((e = rb_get(h, u, &body, &dt)) != 0 ||
		    (e = rb_add(&ng, dt)) != 0)
			break;
		snprintf(u, sizeof(u), "%s/v1/nodes?limit=100&cursor=%s", url,
		    cur);
		if ((e = rb_get(h, u, &body, &dt)) != 0 ||
		    (e = rb_add(&nl, dt)) != 0)
			break;
		t0 = rb_now();
		if ((e = rb_store_node(s, id)) != 0 ||
		    (e = rb_add(&sg, rb_now() - t0)) != 0)
			break;
		t0 = rb_now();
		if ((e = rb_store_list(s, cur)) != 0 ||
		    (e = rb_add(&sl, rb_now() - t0)) != 0)
			break;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	store_close(s);
	buf_free(&body);
	if (e != 0) {
		fprintf(stderr, "vigil-readbench: measuring failed: %s\n",
		    vigil_strerror(e));
	} else {
		rb_pct(&hz);
		rb_pct(&ng);
		rb_pct(&nl);
		rb_pct(&sg);
		rb_pct(&sl);
		rb_print("GET /healthz (floor)", &hz, NULL, NULL);
		rb_print("GET /v1/nodes/{id}", &ng, &sg, &hz);
		rb_print("GET /v1/nodes?limit=100", &nl, &sl, &hz);
	}
	free(hz.v);
	free(ng.v);
	free(nl.v);
	free(sg.v);
	free(sl.v);
	return e;
}

static const char rb_usage[] =
"usage: vigil-readbench fill --db PATH [--nodes N] [--appraisals M]\n"
"       vigil-readbench measure --db PATH --url URL --token T [--nodes N]\n"
"                               [--duration SECONDS]\n"
"fill writes SYNTHETIC rows straight into the SQLite store (see the top of\n"
"bench/readbench.c); measure reads from a verifier serving that store.\n";

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'b' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "appraisals", required_argument, NULL, 'a' },
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = NULL, *url = NULL, *token = NULL, *mode;
	long nodes = 10000, appraisals = 1000000;
	double duration = 20;
	int ch, e;

	log_init("vigil-readbench", LOG_ERR);
	if (argc < 2) {
		fputs(rb_usage, stderr);
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': db = optarg; break;
		case 'n': nodes = strtol(optarg, NULL, 10); break;
		case 'a': appraisals = strtol(optarg, NULL, 10); break;
		case 'u': url = optarg; break;
		case 't': token = optarg; break;
		case 'd': duration = strtod(optarg, NULL); break;
		case 'h': fputs(rb_usage, stdout); return 0;
		default: fputs(rb_usage, stderr); return 2;
		}
	}
	if (db == NULL || nodes < 1 || nodes > 10000000 || appraisals < 0 ||
	    appraisals > 100000000 || duration <= 0) {
		fputs(rb_usage, stderr);
		return 2;
	}
	if (strcmp(mode, "fill") == 0) {
		e = rb_fill(db, nodes, appraisals);
	} else if (strcmp(mode, "measure") == 0 && url != NULL &&
	    token != NULL) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		e = rb_measure(db, url, token, nodes, duration);
		curl_global_cleanup();
	} else {
		fputs(rb_usage, stderr);
		return 2;
	}
	return e == 0 ? 0 : 1;
}
