/* The key vault (vault.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "err.h"
#include "log.h"
#include "mm.h"
#include "vault.h"

struct vault_key {
	struct keywrap_key k;
	EVP_PKEY *ec;		/* EC_P256 keys */
	uint8_t blob_fp[32];	/* SHA-256 of the blob, for idempotence */
};

struct vault {
	char dir[4096];
	EVP_PKEY *wrap;
	size_t n;
	struct vault_key keys[VAULT_MAX_KEYS];
};

static void
vault_key_wipe(struct vault_key *k)
{
	EVP_PKEY_free(k->ec);
	OPENSSL_cleanse(k, sizeof(*k));
}

void
vault_close(struct vault *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++)
		vault_key_wipe(&v->keys[i]);
	free(v);
}

static struct vault_key *
vault_find(struct vault *v, const char *tenant, const char *id)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->keys[i].k.pol.tenant, tenant) == 0 &&
		    strcmp(v->keys[i].k.pol.key_id, id) == 0)
			return &v->keys[i];
	return NULL;
}

/* Unwraps blob into a new slot (not yet counted). */
static int
vault_load(struct vault *v, const uint8_t *blob, size_t len,
    struct vault_key *k)
{
	unsigned int dl = 0;
	int e;

	memset(k, 0, sizeof(*k));
	if ((e = keywrap_unwrap(v->wrap, blob, len, &k->k)) != 0)
		return e;
	if (EVP_Digest(blob, len, k->blob_fp, &dl, EVP_sha256(), NULL) != 1) {
		vault_key_wipe(k);
		return VIGIL_ECRYPTO;
	}
	if (k->k.pol.type == KEYWRAP_TYPE_EC_P256 &&
	    (e = keywrap_ec_from_scalar(k->k.material, &k->ec)) != 0) {
		vault_key_wipe(k);
		return e;
	}
	return 0;
}

int
vault_open(const char *state_dir, EVP_PKEY *wrap_key, struct vault **out)
{
	struct vault *v;
	struct dirent *de;
	DIR *d = NULL;
	char path[4096 + 256];
	uint8_t *blob;
	size_t len, nl;
	int e, n;

	*out = NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	v->wrap = wrap_key;
	n = snprintf(v->dir, sizeof(v->dir), "%s/keys", state_dir);
	if (n < 0 || (size_t)n >= sizeof(v->dir) - 80) {
		free(v);
		return VIGIL_ECONFIG;
	}
	if (mkdir(v->dir, 0700) != 0 && errno != EEXIST) {
		log_err("vault: cannot create %s: %s", v->dir, strerror(errno));
		free(v);
		return VIGIL_EIO;
	}
	if ((d = opendir(v->dir)) == NULL) {
		free(v);
		return VIGIL_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		nl = strlen(de->d_name);
		if (nl < 6 || strcmp(de->d_name + nl - 5, ".vgkw") != 0)
			continue;
		if (v->n == VAULT_MAX_KEYS) {
			log_err("vault: over %u keys stored", VAULT_MAX_KEYS);
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", v->dir, de->d_name);
		if ((e = file_read(path, MM_MAX_BLOB, &blob, &len)) != 0)
			continue;
		e = vault_load(v, blob, len, &v->keys[v->n]);
		free(blob);
		if (e != 0) {
			log_err("vault: stored key %s does not unwrap: %s",
			    path, vigil_strerror(e));
			continue;
		}
		/* Files of the one-namespace vault (keys/ID.vgkw) load as
		 * they are: the blob names its tenant. Two files for one
		 * (tenant, id) are not two keys. */
		if (vault_find(v, v->keys[v->n].k.pol.tenant,
		    v->keys[v->n].k.pol.key_id) != NULL) {
			log_err("vault: stored key %s: tenant %s has key %s "
			    "already; skipped", path,
			    v->keys[v->n].k.pol.tenant,
			    v->keys[v->n].k.pol.key_id);
			vault_key_wipe(&v->keys[v->n]);
			continue;
		}
		v->n++;
	}
	closedir(d);
	log_info("vault: %zu keys loaded", v->n);
	*out = v;
	return 0;
}

int
vault_provision(struct vault *v, const uint8_t *blob, size_t len,
    char tenant[KEYWRAP_MAX_ID + 1], char id[KEYWRAP_MAX_ID + 1])
{
	struct vault_key k, *old;
	char path[4096 + 256];
	int e;

	if (v->n == VAULT_MAX_KEYS)
		return VIGIL_ETOOBIG;
	if ((e = vault_load(v, blob, len, &k)) != 0)
		return e;
	memcpy(tenant, k.k.pol.tenant, sizeof(k.k.pol.tenant));
	memcpy(id, k.k.pol.key_id, sizeof(k.k.pol.key_id));
	if ((old = vault_find(v, k.k.pol.tenant, k.k.pol.key_id)) != NULL) {
		e = memcmp(old->blob_fp, k.blob_fp, 32) == 0 ? 0 : VIGIL_EEXIST;
		if (e != 0)
			log_warn("vault: tenant %s has key %s already", tenant,
			    id);
		vault_key_wipe(&k);
		return e;
	}
	snprintf(path, sizeof(path), "%s/%s~%s.vgkw", v->dir, k.k.pol.tenant,
	    k.k.pol.key_id);
	if ((e = file_write_atomic(path, blob, len)) != 0) {
		vault_key_wipe(&k);
		return e;
	}
	v->keys[v->n++] = k;
	OPENSSL_cleanse(&k, sizeof(k));
	log_info("vault: key %s of tenant %s provisioned", id,
	    v->keys[v->n - 1].k.pol.tenant);
	return 0;
}

uint32_t
vault_check(struct vault *v, const char *tenant, const char *id, uint8_t op,
    uid_t uid)
{
	struct vault_key *k = vault_find(v, tenant, id);
	size_t i;

	if (k == NULL)
		return MM_ST_NOT_FOUND;
	for (i = 0; i < k->k.pol.n_callers; i++)
		if (k->k.pol.callers[i] == (uint32_t)uid)
			break;
	if (i == k->k.pol.n_callers)
		return MM_ST_DENIED;
	if (op < MM_OP_SIGN || op > MM_OP_UNWRAP ||
	    !(k->k.pol.ops & (1u << op)))
		return MM_ST_OP_REFUSED;
	return MM_ST_OK;
}

static int
vault_unwrap(const struct vault_key *k, const uint8_t *data, size_t len,
    struct buf *out)
{
	static const uint8_t iv[4] = { 0xa6, 0x59, 0x59, 0xa6 };
	EVP_CIPHER_CTX *c;
	uint8_t *pt = NULL;
	int n1 = 0, n2 = 0, e = VIGIL_ECRYPTO;

	if (len < 16 || len > MM_MAX_DATA || len % 8 != 0)
		return VIGIL_EINVAL;
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    (pt = malloc(len + 16)) == NULL)
		goto out;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_DecryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL,
	    k->k.material, iv) != 1 ||
	    EVP_DecryptUpdate(c, pt, &n1, data, (int)len) != 1 ||
	    EVP_DecryptFinal_ex(c, pt + n1, &n2) != 1) {
		log_warn("vault: unwrap with key %s of tenant %s failed "
		    "(integrity check)", k->k.pol.key_id, k->k.pol.tenant);
		goto out;
	}
	e = buf_add(out, pt, (size_t)(n1 + n2));
 out:
	if (pt != NULL)
		OPENSSL_cleanse(pt, len + 16);
	free(pt);
	EVP_CIPHER_CTX_free(c);
	return e;
}

int
vault_use(struct vault *v, const char *tenant, const char *id, uint8_t op,
    const uint8_t *data, size_t len, struct buf *out)
{
	struct vault_key *k = vault_find(v, tenant, id);
	EVP_MD_CTX *c = NULL;
	uint8_t res[128];
	size_t rl = sizeof(res);
	int e = VIGIL_ECRYPTO;

	if (k == NULL)
		return VIGIL_ENOTFOUND;
	switch (op) {
	case MM_OP_SIGN:
		if (k->ec == NULL)
			return VIGIL_EINVAL;
		if ((c = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL,
		    k->ec) != 1 ||
		    EVP_DigestSign(c, res, &rl, data, len) != 1)
			break;
		e = buf_add(out, res, rl);
		break;
	case MM_OP_HMAC:
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
		    k->k.material, k->k.material_len, data, len, res,
		    sizeof(res), &rl) == NULL)
			break;
		e = buf_add(out, res, rl);
		break;
	case MM_OP_UNWRAP:
		e = vault_unwrap(k, data, len, out);
		break;
	default:
		e = VIGIL_EINVAL;
	}
	EVP_MD_CTX_free(c);
	OPENSSL_cleanse(res, sizeof(res));
	return e;
}
