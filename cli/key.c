/* `vigil key` (cli/key.h). */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "cli/key.h"
#include "err.h"
#include "smm-bridge/keywrap.h"
#include "smm-bridge/mm.h"

struct key_args {
	const char *node, *ops, *uids, *in, *id, *tenant, *out;
};

static int
key_usage(void)
{
	fputs("usage: vigil key wrap --node ID --ops OPS --uid UID[,UID...] "
	    "--in KEYFILE\n"
	    "                 [--id KEYID] [--tenant T] [--out FILE]\n"
	    "       vigil key provision --node ID --in FILE.vgkw\n"
	    "       vigil key uses KEYID\n", stderr);
	return 2;
}

static int
key_parse(int argc, char **argv, int first, struct key_args *a)
{
	const char **dst;
	int i;

	memset(a, 0, sizeof(*a));
	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "--node") == 0)
			dst = &a->node;
		else if (strcmp(argv[i], "--ops") == 0)
			dst = &a->ops;
		else if (strcmp(argv[i], "--uid") == 0)
			dst = &a->uids;
		else if (strcmp(argv[i], "--in") == 0)
			dst = &a->in;
		else if (strcmp(argv[i], "--id") == 0)
			dst = &a->id;
		else if (strcmp(argv[i], "--tenant") == 0)
			dst = &a->tenant;
		else if (strcmp(argv[i], "--out") == 0)
			dst = &a->out;
		else
			return -1;
		if (++i == argc)
			return -1;
		*dst = argv[i];
	}
	return 0;
}

static int
key_node_ok(const char *s)
{
	size_t n = strlen(s);

	return n == 64 && strspn(s, "0123456789abcdef") == n;
}

/* "0,1000" into pol->callers. */
static int
key_uids(const char *s, struct keywrap_policy *pol)
{
	unsigned long v;
	char *end;

	pol->n_callers = 0;
	for (;;) {
		errno = 0;
		if (*s < '0' || *s > '9')
			return -1;
		v = strtoul(s, &end, 10);
		if (errno != 0 || v > UINT32_MAX ||
		    pol->n_callers == KEYWRAP_MAX_CALLERS)
			return -1;
		pol->callers[pol->n_callers++] = (uint32_t)v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

/* The node's attested key-wrapping key, from the verifier. */
static int
key_recipient(const struct cli_ctx *c, const char *node, EVP_PKEY **out)
{
	char path[128];
	const char *pem, *st;
	json_t *j = NULL;
	BIO *b = NULL;
	int r;

	*out = NULL;
	snprintf(path, sizeof(path), "/v1/nodes/%s/smm-key", node);
	if ((r = cli_http(c, "GET", path, NULL, &j)) != 0)
		return r;
	pem = json_string_value(json_object_get(j, "wrap_pub_pem"));
	st = json_string_value(json_object_get(j, "status"));
	if (pem == NULL || (b = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (*out = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "vigil: the verifier's smm-key answer holds no "
		    "public key\n");
		r = VIGIL_EINVAL;
	} else if (st == NULL || strcmp(st, "affirming") != 0 ||
	    !json_is_true(json_object_get(j, "fresh")))
		fprintf(stderr, "vigil: note: node %.12s... is %s%s; the key "
		    "is forwarded only once it is fresh and affirming\n", node,
		    st ? st : "unknown", json_is_true(json_object_get(j,
		    "fresh")) ? "" : " (stale)");
	BIO_free(b);
	json_decref(j);
	return r;
}

/* KEYFILE: a PEM P-256 private key, or raw secret bytes. */
static int
key_material(const char *path, struct keywrap_key *k)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	EVP_PKEY *pk = NULL;
	BIO *b = NULL;
	int r;

	if ((r = file_read(path, 16384, &raw, &len)) != 0) {
		fprintf(stderr, "vigil: cannot read %s: %s\n", path,
		    vigil_strerror(r));
		return r;
	}
	if (len > 10 && memcmp(raw, "-----BEGIN", 10) == 0) {
		if ((b = BIO_new_mem_buf(raw, (int)len)) != NULL)
			pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		if (pk == NULL || keywrap_ec_scalar(pk, k->material) != 0) {
			fprintf(stderr, "vigil: %s is not a P-256 private key\n",
			    path);
			r = VIGIL_EINVAL;
		} else {
			k->material_len = 32;
			k->pol.type = KEYWRAP_TYPE_EC_P256;
		}
	} else if (len < 16 || len > KEYWRAP_MAX_MATERIAL) {
		fprintf(stderr, "vigil: %s: a secret is 16..%u bytes\n", path,
		    KEYWRAP_MAX_MATERIAL);
		r = VIGIL_EINVAL;
	} else {
		memcpy(k->material, raw, len);
		k->material_len = len;
		k->pol.type = KEYWRAP_TYPE_SECRET;
	}
	EVP_PKEY_free(pk);
	BIO_free(b);
	OPENSSL_cleanse(raw, len);
	free(raw);
	return r;
}

/* KEYID from the file's base name: up to the first '.', [A-Za-z0-9_-]. */
static void
key_default_id(const char *in, char *out, size_t cap)
{
	const char *base = strrchr(in, '/');
	size_t i = 0;

	base = base ? base + 1 : in;
	for (; *base != '\0' && *base != '.' && i + 1 < cap &&
	    i < KEYWRAP_MAX_ID; base++)
		out[i++] = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789_-", *base) ? *base : '_';
	out[i] = '\0';
}

static int
key_wrap(const struct cli_ctx *c, const struct key_args *a)
{
	struct keywrap_key k;
	struct buf blob = BUF_INIT;
	EVP_PKEY *to = NULL;
	char out[4096];
	const char *tenant = a->tenant ? a->tenant : getenv("VIGIL_TENANT");
	int r;

	memset(&k, 0, sizeof(k));
	if (a->node == NULL || a->ops == NULL || a->uids == NULL ||
	    a->in == NULL || !key_node_ok(a->node))
		return key_usage();
	if (tenant == NULL || tenant[0] == '\0' ||
	    strlen(tenant) > KEYWRAP_MAX_ID) {
		fprintf(stderr, "vigil: key wrap: --tenant (or VIGIL_TENANT): "
		    "the tenant of your token\n");
		return 2;
	}
	if (keywrap_ops_parse(a->ops, &k.pol.ops) != 0 ||
	    key_uids(a->uids, &k.pol) != 0) {
		fprintf(stderr, "vigil: key wrap: --ops sign,hmac,unwrap "
		    "(a subset) and --uid UID[,UID...] (at most %u)\n",
		    KEYWRAP_MAX_CALLERS);
		return 2;
	}
	if (a->id != NULL)
		snprintf(k.pol.key_id, sizeof(k.pol.key_id), "%s", a->id);
	else
		key_default_id(a->in, k.pol.key_id, sizeof(k.pol.key_id));
	snprintf(k.pol.tenant, sizeof(k.pol.tenant), "%s", tenant);
	snprintf(out, sizeof(out), "%s", a->out ? a->out : "");
	if (a->out == NULL && snprintf(out, sizeof(out), "%s.vgkw", a->in) >=
	    (int)sizeof(out))
		return 2;
	r = 2;
	if (key_material(a->in, &k) != 0 ||
	    key_recipient(c, a->node, &to) != 0)
		goto out;
	if (keywrap_wrap(to, &k, &blob) != 0) {
		fprintf(stderr, "vigil: key wrap: the key and its policy do "
		    "not go together (docs/smm.md: sign needs a P-256 key; "
		    "hmac/unwrap a secret, unwrap one of 32 bytes)\n");
		goto out;
	}
	if (file_write_atomic(out, blob.data, blob.len) != 0) {
		fprintf(stderr, "vigil: cannot write %s\n", out);
		goto out;
	}
	printf("%s\n", out);
	fprintf(stderr, "vigil: key %s of tenant %s wrapped to node %.12s... "
	    "(%zu bytes); send it with: vigil key provision --node %s --in "
	    "%s\n", k.pol.key_id, k.pol.tenant, a->node, blob.len, a->node,
	    out);
	r = 0;
 out:
	OPENSSL_cleanse(&k, sizeof(k));
	EVP_PKEY_free(to);
	buf_free(&blob);
	return r;
}

static int
key_provision(const struct cli_ctx *c, const struct key_args *a)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	char *b64 = NULL, *body = NULL;
	json_t *req = NULL, *j = NULL;
	int r = 2;

	if (a->node == NULL || a->in == NULL || !key_node_ok(a->node))
		return key_usage();
	if (file_read(a->in, MM_MAX_BLOB, &raw, &len) != 0 || len == 0) {
		fprintf(stderr, "vigil: cannot read %s (at most %u bytes)\n",
		    a->in, MM_MAX_BLOB);
		goto out;
	}
	if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		goto out;
	EVP_EncodeBlock((unsigned char *)b64, raw, (int)len);
	if ((req = json_pack("{s:s, s:s}", "node", a->node, "wrapped",
	    b64)) == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	if (cli_http(c, "POST", "/v1/keys", body, &j) != 0)
		goto out;
	if (c->json) {
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (s != NULL)
			puts(s);
		free(s);
	} else
		printf("key %s stored for node %.12s...: forwarded with the "
		    "node's next affirming push\n",
		    json_string_value(json_object_get(j, "id")) ?
		    json_string_value(json_object_get(j, "id")) : "?",
		    a->node);
	r = 0;
 out:
	free(raw);
	free(b64);
	free(body);
	json_decref(req);
	json_decref(j);
	return r;
}

static int
key_uses(const struct cli_ctx *c, const char *id)
{
	char path[160];
	json_t *j = NULL, *e, *arr;
	size_t i;
	int r;

	if (id[0] == '\0' || strlen(id) > KEYWRAP_MAX_ID ||
	    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != strlen(id))
		return key_usage();
	snprintf(path, sizeof(path), "/v1/keys/%s/uses?limit=256", id);
	if ((r = cli_http(c, "GET", path, NULL, &j)) != 0)
		return 2;
	if (c->json) {
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (s != NULL)
			puts(s);
		free(s);
	} else {
		arr = json_object_get(j, "entries");
		for (i = 0; i < json_array_size(arr) &&
		    (e = json_array_get(arr, i)) != NULL; i++)
			printf("%" JSON_INTEGER_FORMAT " node=%.12s... op=%s "
			    "uid=%" JSON_INTEGER_FORMAT " %s status=%s\n",
			    json_integer_value(json_object_get(e, "seq")),
			    json_string_value(json_object_get(e, "node")),
			    json_string_value(json_object_get(e, "op")),
			    json_integer_value(json_object_get(e,
			    "caller_uid")), json_is_true(json_object_get(e,
			    "granted")) ? "granted" : "refused",
			    json_string_value(json_object_get(e, "status")));
	}
	json_decref(j);
	return 0;
}

int
cli_key(const struct cli_ctx *c, int argc, char **argv)
{
	struct key_args a;

	if (argc < 2)
		return key_usage();
	if (strcmp(argv[1], "uses") == 0)
		return argc == 3 ? key_uses(c, argv[2]) : key_usage();
	if (key_parse(argc, argv, 2, &a) != 0)
		return key_usage();
	if (strcmp(argv[1], "wrap") == 0)
		return key_wrap(c, &a);
	if (strcmp(argv[1], "provision") == 0)
		return key_provision(c, &a);
	return key_usage();
}
