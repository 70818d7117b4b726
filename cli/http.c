#include <curl/curl.h>
#include <stdio.h>
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

int
cli_http(const struct cli_ctx *c, const char *method, const char *path,
    const char *body, json_t **out)
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
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cli_http_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		fprintf(stderr, "vigil: cannot reach the verifier at %s: %s\n"
		    "  (set VIGIL_URL or --url)\n", c->url,
		    curl_easy_strerror(cc));
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
