/* vigil-loadgen: many simulated agents pushing evidence to a running
 * verifier, for benchmarks and load tests. Each simulated agent has a
 * software EK (common/swek.h) whose certificate a CA given on the command
 * line issued (the verifier must trust it), and a software AK
 * (common/swquote.h) producing TPM-format quotes: one swtpm cannot sign
 * thousands of quotes a second. Agents register and activate through the
 * verifier's real routes, then push over HTTP keep-alive.
 *
 * It prints verified bundles/s, latency p50/p99, and, given the verifier's
 * pid, the verifier's CPU seconds and its efficiency: bundles verified per
 * verifier CPU-second / ECDSA P-256 verifications per CPU-second that
 * OpenSSL achieves on this machine, measured in the same run. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "buf.h"
#include "err.h"
#include "events.h"
#include "evlog.h"
#include "log.h"
#include "makecred.h"
#include "swek.h"
#include "swquote.h"
#include "tpm_parse.h"
#include "vigil.pb-c.h"

#define LG_MAX_RESPONSE (1u << 20)
#define LG_MAX_SAMPLES (4u << 20)

struct lg_agent {
	struct swek *ek;
	struct swquote *ak;
	char id[65];
	uint8_t nonce[64];
	size_t nonce_len;
	struct buf log;
	struct pcrs pcrs;
	int log_sent;
	uint64_t clock;
};

struct lg {
	const char *url;
	struct lg_agent *agents;
	size_t n_agents;
	int threads;
	double duration;
	double rate;		/* pushes per second in all, 0: flat out */
	pthread_mutex_t mu;
	double *lat;		/* seconds, one per successful push */
	size_t n_lat, cap_lat;
	uint64_t ok, failed;
};

static double
lg_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
lg_sink(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->len + size * n > LG_MAX_RESPONSE || buf_add(b, p, size * n))
		return 0;
	return size * n;
}

/* POSTs a protobuf body; 0 with the response in resp on HTTP 200. */
static int
lg_post(CURL *h, const char *url, const uint8_t *body, size_t len,
    struct buf *resp, long *status)
{
	struct curl_slist *hdrs;
	CURLcode cc;

	resp->len = 0;
	hdrs = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, lg_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	*status = 0;
	if (cc != CURLE_OK) {
		log_err("loadgen: POST %s: %s", url, curl_easy_strerror(cc));
		return VIGIL_ENET;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return *status == 200 ? 0 : VIGIL_ENET;
}

/* The simulated boot of a plain server: firmware in PCR 0, separators.
 * No AK hand-off: since the two-log layout it is Vigil's runtime log's
 * (PCR 23) and only a node claiming the PSE binding measures it
 * (docs/real-machines.md); PCRs 11 and 23 stay zero. */
static int
lg_agent_boot(struct lg_agent *a)
{
	static const uint8_t fw[] = "vigil-loadgen firmware";
	static const uint8_t zero4[4];
	uint8_t d[SHA256_LEN], pcr[PCR_COUNT][SHA256_LEN];
	struct evlog *log = NULL;
	uint32_t touched, i;
	int r;

	memset(pcr, 0, sizeof(pcr));
	EVP_Digest(fw, sizeof(fw), d, NULL, EVP_sha256(), NULL);
	if ((r = evlog_write_header(&a->log)) != 0 ||
	    (r = evlog_write_event(&a->log, 0, EV_S_CRTM_VERSION, d, fw,
	    sizeof(fw))) != 0)
		goto out;
	EVP_Digest(zero4, 4, d, NULL, EVP_sha256(), NULL);
	for (i = 0; i < 8; i++)
		if ((r = evlog_write_event(&a->log, i, EV_SEPARATOR, d, zero4,
		    4)) != 0)
			goto out;
	if ((r = evlog_parse(a->log.data, a->log.len, &log)) != 0 ||
	    (r = evlog_replay(log, EVLOG_SHA256, pcr, &touched)) != 0)
		goto out;
	memset(&a->pcrs, 0, sizeof(a->pcrs));
	a->pcrs.mask = PCR_POLICY_MASK;
	for (i = 0; i < PCR_COUNT; i++)
		if (PCR_POLICY_MASK & (1u << i))
			memcpy(a->pcrs.v[i], pcr[i], SHA256_LEN);
 out:
	evlog_free(log);
	return r;
}

static int
lg_agent_register(struct lg *g, struct lg_agent *a, CURL *h)
{
	Vigil__RegisterRequest rq = VIGIL__REGISTER_REQUEST__INIT;
	Vigil__RegisterResponse *rs = NULL;
	Vigil__ActivateRequest aq = VIGIL__ACTIVATE_REQUEST__INIT;
	Vigil__ActivateResponse *as = NULL;
	uint8_t ekb[sizeof(TPM2B_PUBLIC)], akb[sizeof(TPM2B_PUBLIC)];
	uint8_t secret[64], *body = NULL;
	struct buf cert = BUF_INIT, resp = BUF_INIT;
	TPM2B_PUBLIC akpub;
	TPM2B_NAME name;
	size_t ekl, akl, secret_len = sizeof(secret), len;
	char url[1024];
	long status;
	int r;

	if ((r = swquote_ak_public(a->ak, &akpub)) != 0 ||
	    (r = tpm_public_name(&akpub, &name)) != 0 ||
	    (r = tpm_public_marshal(swek_public(a->ek), ekb, sizeof(ekb),
	    &ekl)) != 0 ||
	    (r = tpm_public_marshal(&akpub, akb, sizeof(akb), &akl)) != 0 ||
	    (r = swek_cert_der(a->ek, &cert)) != 0)
		goto out;
	rq.ek_public = (ProtobufCBinaryData){ ekl, ekb };
	rq.ak_public = (ProtobufCBinaryData){ akl, akb };
	rq.ek_cert = (ProtobufCBinaryData){ cert.len, cert.data };
	rq.hostname = "loadgen";
	len = vigil__register_request__get_packed_size(&rq);
	if ((body = malloc(len)) == NULL) {
		r = VIGIL_ENOMEM;
		goto out;
	}
	vigil__register_request__pack(&rq, body);
	snprintf(url, sizeof(url), "%s/v1/agents", g->url);
	if ((r = lg_post(h, url, body, len, &resp, &status)) != 0) {
		log_err("loadgen: registration refused (HTTP %ld): %.*s",
		    status, (int)resp.len, (const char *)resp.data);
		goto out;
	}
	if ((rs = vigil__register_response__unpack(NULL, resp.len,
	    resp.data)) == NULL || strlen(rs->agent_id) != 64) {
		r = VIGIL_EINVAL;
		goto out;
	}
	memcpy(a->id, rs->agent_id, 65);
	if ((r = makecred_activate_sw(swek_public(a->ek), swek_key(a->ek),
	    &name, rs->credential_blob.data, rs->credential_blob.len,
	    rs->encrypted_secret.data, rs->encrypted_secret.len, secret,
	    &secret_len)) != 0)
		goto out;
	aq.secret = (ProtobufCBinaryData){ secret_len, secret };
	free(body);
	len = vigil__activate_request__get_packed_size(&aq);
	if ((body = malloc(len)) == NULL) {
		r = VIGIL_ENOMEM;
		goto out;
	}
	vigil__activate_request__pack(&aq, body);
	snprintf(url, sizeof(url), "%s/v1/agents/%s/activate", g->url, a->id);
	if ((r = lg_post(h, url, body, len, &resp, &status)) != 0) {
		log_err("loadgen: activation refused (HTTP %ld): %.*s",
		    status, (int)resp.len, (const char *)resp.data);
		goto out;
	}
	if ((as = vigil__activate_response__unpack(NULL, resp.len,
	    resp.data)) == NULL || as->nonce.len > sizeof(a->nonce)) {
		r = VIGIL_EINVAL;
		goto out;
	}
	memcpy(a->nonce, as->nonce.data, as->nonce.len);
	a->nonce_len = as->nonce.len;
 out:
	vigil__register_response__free_unpacked(rs, NULL);
	vigil__activate_response__free_unpacked(as, NULL);
	free(body);
	buf_free(&cert);
	buf_free(&resp);
	return r;
}

/* One push: a quote over the last nonce, the PCRs, the log on first push. */
static int
lg_agent_push(struct lg *g, struct lg_agent *a, CURL *h, struct buf *resp)
{
	Vigil__Evidence ev = VIGIL__EVIDENCE__INIT;
	Vigil__PcrValue pv[PCR_COUNT], *ppv[PCR_COUNT];
	Vigil__EvidenceItem item = VIGIL__EVIDENCE_ITEM__INIT, *pitem = &item;
	Vigil__EventLogChunk chunk = VIGIL__EVENT_LOG_CHUNK__INIT;
	Vigil__EvidenceReply *rep = NULL;
	struct buf attest = BUF_INIT, sig = BUF_INIT;
	uint8_t *body = NULL, *chunkb = NULL;
	size_t n = 0, len, i;
	char url[1024];
	long status;
	int r;

	a->clock += 1000;
	if ((r = swquote_make(a->ak, a->nonce, a->nonce_len, &a->pcrs,
	    PCR_POLICY_MASK, a->clock, 1, 0, 1, &attest, &sig)) != 0)
		goto out;
	ev.nonce = (ProtobufCBinaryData){ a->nonce_len, a->nonce };
	ev.quote = (ProtobufCBinaryData){ attest.len, attest.data };
	ev.signature = (ProtobufCBinaryData){ sig.len, sig.data };
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(PCR_POLICY_MASK & (1u << i)))
			continue;
		vigil__pcr_value__init(&pv[n]);
		pv[n].index = (uint32_t)i;
		pv[n].digest = (ProtobufCBinaryData){ SHA256_LEN,
		    a->pcrs.v[i] };
		ppv[n] = &pv[n];
		n++;
	}
	ev.n_pcrs = n;
	ev.pcrs = ppv;
	if (!a->log_sent) {
		chunk.boot_count = 1;
		chunk.offset = 0;
		chunk.data = (ProtobufCBinaryData){ a->log.len, a->log.data };
		len = vigil__event_log_chunk__get_packed_size(&chunk);
		if ((chunkb = malloc(len)) == NULL) {
			r = VIGIL_ENOMEM;
			goto out;
		}
		vigil__event_log_chunk__pack(&chunk, chunkb);
		item.epoch = 1;
		item.seq = 1;
		item.kind = VIGIL__ITEM_KIND__ITEM_EVENT_LOG;
		item.body = (ProtobufCBinaryData){ len, chunkb };
		ev.n_items = 1;
		ev.items = &pitem;
	}
	len = vigil__evidence__get_packed_size(&ev);
	if ((body = malloc(len)) == NULL) {
		r = VIGIL_ENOMEM;
		goto out;
	}
	vigil__evidence__pack(&ev, body);
	snprintf(url, sizeof(url), "%s/v1/agents/%s/evidence", g->url, a->id);
	if ((r = lg_post(h, url, body, len, resp, &status)) != 0) {
		log_warn("loadgen: evidence refused (HTTP %ld): %.*s", status,
		    (int)resp->len, (const char *)resp->data);
		goto out;
	}
	if ((rep = vigil__evidence_reply__unpack(NULL, resp->len,
	    resp->data)) == NULL || rep->next_nonce.len > sizeof(a->nonce) ||
	    rep->next_nonce.len == 0) {
		r = VIGIL_EINVAL;
		goto out;
	}
	memcpy(a->nonce, rep->next_nonce.data, rep->next_nonce.len);
	a->nonce_len = rep->next_nonce.len;
	if (strcmp(rep->status, "affirming") != 0)
		log_warn("loadgen: agent %.12s is %s", a->id, rep->status);
	if (!a->log_sent && rep->acked_seq >= 1)
		a->log_sent = 1;
 out:
	vigil__evidence_reply__free_unpacked(rep, NULL);
	free(body);
	free(chunkb);
	buf_free(&attest);
	buf_free(&sig);
	return r;
}

struct lg_worker {
	struct lg *g;
	int index;
	int setup_failed;
};

static void *
lg_setup_thread(void *arg)
{
	struct lg_worker *w = arg;
	struct lg *g = w->g;
	CURL *h = curl_easy_init();
	size_t i;

	for (i = (size_t)w->index; i < g->n_agents; i += (size_t)g->threads)
		if (lg_agent_register(g, &g->agents[i], h) != 0)
			w->setup_failed++;
	curl_easy_cleanup(h);
	return NULL;
}

static void *
lg_push_thread(void *arg)
{
	struct lg_worker *w = arg;
	struct lg *g = w->g;
	struct buf resp = BUF_INIT;
	CURL *h = curl_easy_init();
	double end = lg_now(CLOCK_MONOTONIC) + g->duration, t0, dt;
	double due = lg_now(CLOCK_MONOTONIC);
	size_t i = (size_t)w->index;
	int r;

	while ((t0 = lg_now(CLOCK_MONOTONIC)) < end) {
		/* --rate: each thread paces itself to rate/threads pushes a
		 * second (open loop: a late push does not delay the next). */
		if (g->rate > 0) {
			struct timespec ts;

			due += (double)g->threads / g->rate;
			if (due > t0) {
				dt = due - t0;
				ts.tv_sec = (time_t)dt;
				ts.tv_nsec = (long)((dt - (double)ts.tv_sec) *
				    1e9);
				nanosleep(&ts, NULL);
				if ((t0 = lg_now(CLOCK_MONOTONIC)) >= end)
					break;
			}
		}
		r = lg_agent_push(g, &g->agents[i], h, &resp);
		dt = lg_now(CLOCK_MONOTONIC) - t0;
		pthread_mutex_lock(&g->mu);
		if (r == 0) {
			g->ok++;
			if (g->n_lat < g->cap_lat)
				g->lat[g->n_lat++] = dt;
		} else {
			g->failed++;
		}
		pthread_mutex_unlock(&g->mu);
		i += (size_t)g->threads;
		if (i >= g->n_agents)
			i = (size_t)w->index;
	}
	buf_free(&resp);
	curl_easy_cleanup(h);
	return NULL;
}

/* The ceiling: ECDSA P-256/SHA-256 verifications per CPU-second, one
 * thread, over a message the size of a quote. */
static double
lg_openssl_verify_rate(void)
{
	uint8_t msg[145], sig[80];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY *k = EVP_EC_gen("P-256");
	double t0, t1 = 0;
	long n = 0;

	RAND_bytes(msg, sizeof(msg));
	EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k);
	EVP_DigestSign(c, sig, &siglen, msg, sizeof(msg));
	t0 = lg_now(CLOCK_THREAD_CPUTIME_ID);
	do {
		EVP_MD_CTX_reset(c);
		if (EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
		    EVP_DigestVerify(c, sig, siglen, msg, sizeof(msg)) != 1)
			break;
		n++;
		t1 = lg_now(CLOCK_THREAD_CPUTIME_ID);
	} while (t1 - t0 < 2.0);
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return (double)n / (t1 - t0);
}

/* utime + stime of a process, in seconds. */
static int
lg_cpu_seconds(long pid, double *out)
{
	char path[64], line[4096], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return VIGIL_EIO;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return VIGIL_EINVAL;
	*out = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static int
lg_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
lg_load_ca(const char *cert_path, const char *key_path, X509 **cert,
    EVP_PKEY **key)
{
	FILE *f;

	if ((f = fopen(cert_path, "r")) == NULL)
		return VIGIL_EIO;
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(key_path, "r")) == NULL)
		return VIGIL_EIO;
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return *cert != NULL && *key != NULL ? 0 : VIGIL_ECRYPTO;
}

static const char lg_usage[] =
"usage: vigil-loadgen --url URL --ca-cert PEM --ca-key PEM [--agents N]\n"
"                     [--threads T] [--duration SECONDS] [--verifier-pid PID]\n"
"                     [--rate PUSHES-PER-SECOND]\n"
"Simulated agents (software keys; NOT TPMs) register with the verifier and\n"
"push evidence as fast as the verifier answers (or at --rate pushes a\n"
"second in all). The verifier must trust\n"
"--ca-cert as a TPM vendor CA and learn or hold reference values.\n";

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca-cert", required_argument, NULL, 'c' },
		{ "ca-key", required_argument, NULL, 'k' },
		{ "agents", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "verifier-pid", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lg g = { .threads = 4, .duration = 10 };
	const char *ca_cert = NULL, *ca_key = NULL;
	struct lg_worker *w = NULL;
	pthread_t *th = NULL;
	EVP_PKEY *cakey = NULL;
	X509 *cacert = NULL;
	double cpu0 = 0, cpu1 = 0, t0, wall, ceiling, rate;
	long pid = 0, n_agents = 100;
	size_t i;
	int ch, failed = 0, rc = 2;

	log_init("vigil-loadgen", LOG_WARN);
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': g.url = optarg; break;
		case 'c': ca_cert = optarg; break;
		case 'k': ca_key = optarg; break;
		case 'n': n_agents = strtol(optarg, NULL, 10); break;
		case 't': g.threads = (int)strtol(optarg, NULL, 10); break;
		case 'd': g.duration = strtod(optarg, NULL); break;
		case 'p': pid = strtol(optarg, NULL, 10); break;
		case 'r': g.rate = strtod(optarg, NULL); break;
		case 'h': fputs(lg_usage, stdout); return 0;
		default: fputs(lg_usage, stderr); return 2;
		}
	}
	if (g.url == NULL || ca_cert == NULL || ca_key == NULL ||
	    n_agents < 1 || n_agents > 100000 || g.threads < 1 ||
	    g.threads > 256 || g.duration <= 0 || g.rate < 0) {
		fputs(lg_usage, stderr);
		return 2;
	}
	if (g.threads > n_agents)
		g.threads = (int)n_agents;
	if (lg_load_ca(ca_cert, ca_key, &cacert, &cakey) != 0) {
		fprintf(stderr, "vigil-loadgen: cannot load the CA from %s and "
		    "%s\n", ca_cert, ca_key);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&g.mu, NULL);
	g.n_agents = (size_t)n_agents;
	g.agents = calloc(g.n_agents, sizeof(*g.agents));
	g.cap_lat = LG_MAX_SAMPLES;
	g.lat = calloc(g.cap_lat, sizeof(double));
	w = calloc((size_t)g.threads, sizeof(*w));
	th = calloc((size_t)g.threads, sizeof(*th));
	if (g.agents == NULL || g.lat == NULL || w == NULL || th == NULL)
		goto out;
	for (i = 0; i < g.n_agents; i++) {
		if (swek_new(cakey, cacert, &g.agents[i].ek) != 0 ||
		    swquote_new(&g.agents[i].ak) != 0 ||
		    lg_agent_boot(&g.agents[i]) != 0)
			goto out;
	}
	for (i = 0; i < (size_t)g.threads; i++) {
		w[i] = (struct lg_worker){ &g, (int)i, 0 };
		pthread_create(&th[i], NULL, lg_setup_thread, &w[i]);
	}
	for (i = 0; i < (size_t)g.threads; i++) {
		pthread_join(th[i], NULL);
		failed += w[i].setup_failed;
	}
	if (failed) {
		fprintf(stderr, "vigil-loadgen: %d of %zu agents could not "
		    "register; see the messages above\n", failed, g.n_agents);
		goto out;
	}
	printf("agents registered: %zu\n", g.n_agents);
	if (pid > 0 && lg_cpu_seconds(pid, &cpu0) != 0) {
		fprintf(stderr, "vigil-loadgen: cannot read /proc/%ld/stat\n",
		    pid);
		goto out;
	}
	t0 = lg_now(CLOCK_MONOTONIC);
	for (i = 0; i < (size_t)g.threads; i++)
		pthread_create(&th[i], NULL, lg_push_thread, &w[i]);
	for (i = 0; i < (size_t)g.threads; i++)
		pthread_join(th[i], NULL);
	wall = lg_now(CLOCK_MONOTONIC) - t0;
	if (pid > 0)
		lg_cpu_seconds(pid, &cpu1);
	qsort(g.lat, g.n_lat, sizeof(double), lg_cmp);
	ceiling = lg_openssl_verify_rate();
	printf("bundles verified: %llu in %.1f s (%.0f/s), refused or failed: "
	    "%llu\n", (unsigned long long)g.ok, wall, (double)g.ok / wall,
	    (unsigned long long)g.failed);
	if (g.n_lat > 0)
		printf("latency: p50 %.2f ms, p99 %.2f ms\n",
		    g.lat[g.n_lat / 2] * 1e3,
		    g.lat[(size_t)((double)g.n_lat * 0.99)] * 1e3);
	printf("openssl ECDSA P-256 verify: %.0f per CPU-second\n", ceiling);
	if (pid > 0 && cpu1 > cpu0) {
		rate = (double)g.ok / (cpu1 - cpu0);
		printf("verifier CPU: %.2f s, %.0f bundles per CPU-second\n",
		    cpu1 - cpu0, rate);
		printf("efficiency: %.2f (bundles per verifier CPU-second / "
		    "OpenSSL verifies per CPU-second)\n", rate / ceiling);
	}
	rc = g.failed == 0 && g.ok > 0 ? 0 : 1;
 out:
	for (i = 0; g.agents != NULL && i < g.n_agents; i++) {
		swek_free(g.agents[i].ek);
		swquote_free(g.agents[i].ak);
		buf_free(&g.agents[i].log);
	}
	free(g.agents);
	free(g.lat);
	free(w);
	free(th);
	X509_free(cacert);
	EVP_PKEY_free(cakey);
	curl_global_cleanup();
	return rc;
}
