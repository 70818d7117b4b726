#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "http.h"

#define CLI_MAX_RESPONSE (16u * 1024 * 1024)

static size_t
cli_http_sink(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->len + size * n > CLI_MAX_RESPONSE)
		return 0;
	if (buf_add(b, p, size * n) != 0)
		return 0;
	return size * n;
}

static void
cli_http_problem(long status, const struct buf *b)
{
	json_t *j = NULL;
	const char *detail = NULL, *title = NULL;

	if (b->len > 0)
		j = json_loadb((const char *)b->data, b->len, 0, NULL);
	if (j != NULL) {
		detail = json_string_value(json_object_get(j, "detail"));
		title = json_string_value(json_object_get(j, "title"));
	}
	fprintf(stderr, "vigil: the verifier answered %ld%s%s%s%s\n", status,
	    title ? " " : "", title ? title : "", detail ? ": " : "",
	    detail ? detail : "");
	json_decref(j);
}

static int
cli_http_do(const struct cli_ctx *c, const char *method, const char *path,
    const void *body, size_t len, const char *ctype, json_t **out)
{
	struct curl_slist *hdrs = NULL;
	struct buf resp = BUF_INIT;
	char url[2048], auth[1024];
	json_error_t jerr;
	long status = 0;
	CURLcode cc;
	CURL *h;
	int r = VIGIL_ENET;

	*out = NULL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->url, path) >=
	    sizeof(url))
		return VIGIL_EINVAL;
	if ((h = curl_easy_init()) == NULL)
		return VIGIL_ENOMEM;
	if (c->token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    c->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body != NULL) {
		hdrs = curl_slist_append(hdrs, ctype);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cli_http_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* The CA of the verifier's HTTPS certificate (--cacert sets it);
	 * without it, the system's trust store. */
	if (getenv("VIGIL_CACERT") != NULL && getenv("VIGIL_CACERT")[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, getenv("VIGIL_CACERT"));
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		fprintf(stderr, "vigil: cannot reach the verifier at %s: %s\n"
		    "  (%s)\n", c->url, curl_easy_strerror(cc),
		    cc == CURLE_PEER_FAILED_VERIFICATION ? "give the CA of the "
		    "verifier's certificate with --cacert or VIGIL_CACERT" :
		    "set VIGIL_URL or --url");
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		cli_http_problem(status, &resp);
		r = status == 404 ? VIGIL_ENOTFOUND :
		    (status == 401 || status == 403) ? VIGIL_EDENIED :
		    VIGIL_ENET;
		goto out;
	}
	if (resp.len == 0) {
		*out = json_null();
		r = 0;
		goto out;
	}
	if ((*out = json_loadb((const char *)resp.data, resp.len, 0,
	    &jerr)) == NULL) {
		fprintf(stderr, "vigil: the verifier sent invalid JSON: %s\n",
		    jerr.text);
		r = VIGIL_EINVAL;
		goto out;
	}
	r = 0;
 out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	buf_free(&resp);
	return r;
}

int
cli_http(const struct cli_ctx *c, const char *method, const char *path,
    const char *body, json_t **out)
{
	return cli_http_do(c, method, path, body, body ? strlen(body) : 0,
	    "Content-Type: application/json", out);
}

int
cli_http_raw(const struct cli_ctx *c, const char *method, const char *path,
    const void *body, size_t len, json_t **out)
{
	/* curl needs a non-NULL pointer to send a body, even an empty one. */
	return cli_http_do(c, method, path, body ? body : "", len,
	    "Content-Type: application/octet-stream", out);
}

/* GET with the body handed over as it arrives (cli_http_stream). */
struct cli_stream {
	CURL *h;
	long status;
	size_t (*sink)(const char *p, size_t n, void *arg);
	void *arg;
	struct buf err;		/* the body of a non-2xx answer */
};

static size_t
cli_stream_write(char *p, size_t size, size_t n, void *arg)
{
	struct cli_stream *st = arg;

	if (st->status == 0)
		curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &st->status);
	if (st->status >= 200 && st->status <= 299)
		return st->sink(p, size * n, st->arg) == size * n ? size * n : 0;
	return cli_http_sink(p, size, n, &st->err);
}

int
cli_http_stream(const struct cli_ctx *c, const char *path,
    const char *extra_header, long timeout_s,
    size_t (*sink)(const char *p, size_t n, void *arg), void *arg)
{
	struct curl_slist *hdrs = NULL;
	struct cli_stream st;
	char url[2048], auth[1024];
	CURLcode cc;
	int r = VIGIL_ENET;

	memset(&st, 0, sizeof(st));
	st.sink = sink;
	st.arg = arg;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->url, path) >=
	    sizeof(url))
		return VIGIL_EINVAL;
	if ((st.h = curl_easy_init()) == NULL)
		return VIGIL_ENOMEM;
	if (c->token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    c->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (extra_header != NULL)
		hdrs = curl_slist_append(hdrs, extra_header);
	curl_easy_setopt(st.h, CURLOPT_URL, url);
	curl_easy_setopt(st.h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(st.h, CURLOPT_WRITEFUNCTION, cli_stream_write);
	curl_easy_setopt(st.h, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(st.h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(st.h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(st.h, CURLOPT_NOSIGNAL, 1L);
	if (getenv("VIGIL_CACERT") != NULL && getenv("VIGIL_CACERT")[0] != '\0')
		curl_easy_setopt(st.h, CURLOPT_CAINFO, getenv("VIGIL_CACERT"));
	cc = curl_easy_perform(st.h);
	curl_easy_getinfo(st.h, CURLINFO_RESPONSE_CODE, &st.status);
	if (st.status != 0 && (st.status < 200 || st.status > 299)) {
		cli_http_problem(st.status, &st.err);
		r = st.status == 404 ? VIGIL_ENOTFOUND :
		    (st.status == 401 || st.status == 403) ? VIGIL_EDENIED :
		    VIGIL_ENET;
		goto out;
	}
	if (cc != CURLE_OK) {
		fprintf(stderr, "vigil: %s %s: %s\n", st.status ? "reading" :
		    "cannot reach the verifier at", st.status ? path : c->url,
		    curl_easy_strerror(cc));
		goto out;
	}
	r = 0;
 out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(st.h);
	buf_free(&st.err);
	return r;
}
