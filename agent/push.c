/* libcurl transport for the agent. The response body is collected into a
 * buffer that refuses to grow past PUSH_MAX_RESPONSE; a problem+json body
 * (RFC 9457) is parsed with jansson for its type and detail, which the
 * caller logs. Nothing else of a response is trusted here: protobuf bodies
 * are decoded by the caller. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"
#include "push.h"

struct push {
	CURL *curl;
	struct curl_slist *headers;
	char base[1024];
	char cert[1024];
	char key[1024];
	char ca[1024];		/* verifier CA file; "" = system store */
};

static size_t
push_write_cb(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct buf *b = user;
	size_t n = size * nmemb;

	if (n > PUSH_MAX_RESPONSE || b->len + n > PUSH_MAX_RESPONSE)
		return 0;		/* aborts the transfer */
	if (buf_add(b, ptr, n) != 0)
		return 0;
	return n;
}

int
push_new(const char *base_url, struct push **out)
{
	struct push *p;
	size_t n;
	int e = VIGIL_ENOMEM;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return VIGIL_ENOMEM;
	n = strlen(base_url);
	while (n > 0 && base_url[n - 1] == '/')
		n--;
	if (n >= sizeof(p->base)) {
		e = VIGIL_EINVAL;
		goto fail;
	}
	memcpy(p->base, base_url, n);
	p->base[n] = '\0';
	if ((p->curl = curl_easy_init()) == NULL)
		goto fail;
	if ((p->headers = curl_slist_append(NULL,
	    "Content-Type: application/x-protobuf")) == NULL ||
	    (p->headers = curl_slist_append(p->headers,
	    "Accept: application/x-protobuf, application/problem+json"))
	    == NULL ||
	    (p->headers = curl_slist_append(p->headers, "Expect:")) == NULL)
		goto fail;
	*out = p;
	return 0;
 fail:
	push_free(p);
	return e;
}

void
push_free(struct push *p)
{
	if (p == NULL)
		return;
	if (p->curl != NULL)
		curl_easy_cleanup(p->curl);
	curl_slist_free_all(p->headers);
	free(p);
}

int
push_set_client_cert(struct push *p, const char *cert_path,
    const char *key_path)
{
	if ((size_t)snprintf(p->cert, sizeof(p->cert), "%s", cert_path) >=
	    sizeof(p->cert) ||
	    (size_t)snprintf(p->key, sizeof(p->key), "%s", key_path) >=
	    sizeof(p->key))
		return VIGIL_EINVAL;
	return 0;
}

int
push_set_ca(struct push *p, const char *ca_path)
{
	if ((size_t)snprintf(p->ca, sizeof(p->ca), "%s", ca_path) >=
	    sizeof(p->ca))
		return VIGIL_EINVAL;
	return 0;
}

void
push_reply_free(struct push_reply *r)
{
	buf_free(&r->body);
}

/* Copies a JSON string member, if it is one, into out. */
static void
push_json_str(json_t *obj, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		snprintf(out, cap, "%s", json_string_value(v));
}

static void
push_parse_problem(struct push_reply *r)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb((const char *)r->body.data, r->body.len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		log_warn("push: problem+json body not a JSON object "
		    "(status=%ld): %s", r->status, root ? "" : jerr.text);
		json_decref(root);
		return;
	}
	push_json_str(root, "type", r->problem_type, sizeof(r->problem_type));
	push_json_str(root, "detail", r->problem_detail,
	    sizeof(r->problem_detail));
	json_decref(root);
}

static void
push_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

int
push_post(struct push *p, const char *path, const uint8_t *body, size_t len,
    struct push_reply *out)
{
	char url[2048], errbuf[CURL_ERROR_SIZE];
	const char *ct = NULL;
	CURLcode rc;
	CURL *c = p->curl;

	memset(out, 0, sizeof(*out));
	if (len > PUSH_MAX_REQUEST)
		return VIGIL_ETOOBIG;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", p->base, path) >=
	    sizeof(url))
		return VIGIL_EINVAL;
	errbuf[0] = '\0';
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)PUSH_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PUSH_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, len ? (const char *)body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)PUSH_MAX_RESPONSE);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, push_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (strncmp(url, "https://", 8) == 0) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		if (p->ca[0] != '\0')
			curl_easy_setopt(c, CURLOPT_CAINFO, p->ca);
	}
	if (p->cert[0] != '\0' && strncmp(url, "https://", 8) == 0) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, p->cert);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY, p->key);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED) {
		log_warn("push: url=%s response over limit=%u bytes, refused",
		    url, PUSH_MAX_RESPONSE);
		buf_free(&out->body);
		return VIGIL_ETOOBIG;
	}
	if (rc != CURLE_OK) {
		log_warn("push: url=%s failed: %s", url,
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		buf_free(&out->body);
		return VIGIL_ENET;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL && strncasecmp(ct, "application/problem+json", 24)
	    == 0) {
		out->is_problem = 1;
		push_parse_problem(out);
		push_sanitize(out->problem_type);
		push_sanitize(out->problem_detail);
	}
	log_debug("push: POST %s status=%ld request_bytes=%zu "
	    "response_bytes=%zu", path, out->status, len, out->body.len);
	return 0;
}

void
push_reply_describe(const struct push_reply *r, char *out, size_t cap)
{
	if (r->is_problem && (r->problem_type[0] || r->problem_detail[0]))
		snprintf(out, cap, "HTTP %ld %s: %s", r->status,
		    r->problem_type, r->problem_detail);
	else
		snprintf(out, cap, "HTTP %ld", r->status);
}
