#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "sigkeys.h"

#define SIGKEYS_FILE_MAX 4096

struct sigkeys {
	pthread_mutex_t mu;
	char dir[PATH_MAX];
	json_t *cur, *prev;	/* private JWKs; prev may be NULL */
	dev_t dev;		/* of current.jwk when loaded */
	ino_t ino;
	struct timespec mtime;
};

static int
sigkeys_path(const char *dir, const char *name, char out[PATH_MAX])
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
		log_err("keys: path %s/%s too long", dir, name);
		return VIGIL_ETOOBIG;
	}
	return 0;
}

/* Reads and checks one key file; VIGIL_ENOTFOUND if absent. */
static int
sigkeys_read(const char *path, json_t **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	json_error_t je;
	struct stat st;
	json_t *k;
	int e;

	*out = NULL;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? VIGIL_ENOTFOUND : VIGIL_EIO;
	if ((st.st_mode & 077) != 0) {
		log_err("keys: %s is readable by others (mode %03o): refused",
		    path, (unsigned)(st.st_mode & 0777));
		return VIGIL_EDENIED;
	}
	if ((e = file_read(path, SIGKEYS_FILE_MAX, &data, &len)) != 0) {
		log_err("keys: cannot read %s (at most %d bytes): %s", path,
		    SIGKEYS_FILE_MAX, vigil_strerror(e));
		return e;
	}
	k = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	if (k == NULL) {
		log_err("keys: %s: not JSON: %s", path, je.text);
		return VIGIL_EINVAL;
	}
	if ((e = jwt_key_check(k)) != 0) {
		log_err("keys: %s: not a usable signing key", path);
		json_decref(k);
		return e;
	}
	*out = k;
	return 0;
}

/* Writes a key file 0600 through a temporary name. */
static int
sigkeys_write(const char *dir, const char *name, const json_t *k)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	char *s = NULL;
	size_t n, off = 0;
	ssize_t w;
	int fd = -1, e;

	if ((e = sigkeys_path(dir, name, path)) != 0 ||
	    (e = sigkeys_path(dir, ".new.jwk", tmp)) != 0)
		return e;
	if ((s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return VIGIL_ENOMEM;
	n = strlen(s);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) <
	    0) {
		log_err("keys: cannot create %s: %s", tmp, strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	while (off < n) {
		if ((w = write(fd, s + off, n - off)) < 0) {
			if (errno == EINTR)
				continue;
			log_err("keys: writing %s: %s", tmp, strerror(errno));
			e = VIGIL_EIO;
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		log_err("keys: writing %s: %s", tmp, strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		log_err("keys: rename %s -> %s: %s", tmp, path,
		    strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	e = 0;
 out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(s);
	return e;
}

static int
sigkeys_mkdir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_err("keys: cannot create %s: %s", dir, strerror(errno));
		return VIGIL_EIO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_err("keys: %s is not a directory", dir);
		return VIGIL_EIO;
	}
	return 0;
}

/* (Re)loads both keys; with k->mu held or before k is shared. */
static int
sigkeys_load(struct sigkeys *k)
{
	char path[PATH_MAX];
	json_t *cur = NULL, *prev = NULL;
	struct stat st;
	int e;

	if ((e = sigkeys_path(k->dir, "current.jwk", path)) != 0 ||
	    (e = sigkeys_read(path, &cur)) != 0)
		return e;
	if (stat(path, &st) != 0) {
		json_decref(cur);
		return VIGIL_EIO;
	}
	if ((e = sigkeys_path(k->dir, "previous.jwk", path)) != 0 ||
	    ((e = sigkeys_read(path, &prev)) != 0 && e != VIGIL_ENOTFOUND)) {
		json_decref(cur);
		return e;
	}
	json_decref(k->cur);
	json_decref(k->prev);
	k->cur = cur;
	k->prev = prev;
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->mtime = st.st_mtim;
	return 0;
}

/* With k->mu held: reloads when current.jwk was replaced. A failed reload
 * keeps the keys in memory (logged). */
static void
sigkeys_refresh(struct sigkeys *k)
{
	char path[PATH_MAX];
	struct stat st;

	if (sigkeys_path(k->dir, "current.jwk", path) != 0 ||
	    stat(path, &st) != 0)
		return;		/* mid-rotation: keep what we have */
	if (st.st_dev == k->dev && st.st_ino == k->ino &&
	    st.st_mtim.tv_sec == k->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == k->mtime.tv_nsec)
		return;
	if (sigkeys_load(k) != 0)
		log_warn("keys: %s changed but cannot be loaded: keeping the "
		    "keys in memory", path);
	else
		log_info("keys: reloaded after rotation: kid=%s",
		    json_string_value(json_object_get(k->cur, "kid")));
}

int
sigkeys_open(const char *dir, struct sigkeys **out)
{
	struct sigkeys *k;
	json_t *first = NULL;
	int e;

	*out = NULL;
	if (dir == NULL || dir[0] == '\0' || strlen(dir) >= PATH_MAX - 32)
		return VIGIL_EINVAL;
	if ((e = sigkeys_mkdir(dir)) != 0)
		return e;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return VIGIL_ENOMEM;
	pthread_mutex_init(&k->mu, NULL);
	snprintf(k->dir, sizeof(k->dir), "%s", dir);
	e = sigkeys_load(k);
	if (e == VIGIL_ENOTFOUND) {
		if ((e = jwt_key_generate(&first)) == 0 &&
		    (e = sigkeys_write(dir, "current.jwk", first)) == 0) {
			log_info("keys: created the first signing key in %s: "
			    "kid=%s", dir, json_string_value(
			    json_object_get(first, "kid")));
			e = sigkeys_load(k);
		}
		json_decref(first);
	}
	if (e != 0) {
		log_err("keys: cannot load the signing keys of %s: %s", dir,
		    vigil_strerror(e));
		sigkeys_free(k);
		return e;
	}
	*out = k;
	return 0;
}

void
sigkeys_free(struct sigkeys *k)
{
	if (k == NULL)
		return;
	json_decref(k->cur);
	json_decref(k->prev);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

int
sigkeys_rotate(const char *dir, char kid[JWT_KID_MAX + 1])
{
	char cur[PATH_MAX], prev[PATH_MAX];
	json_t *nk = NULL, *old = NULL;
	int e;

	if ((e = sigkeys_mkdir(dir)) != 0 ||
	    (e = sigkeys_path(dir, "current.jwk", cur)) != 0 ||
	    (e = sigkeys_path(dir, "previous.jwk", prev)) != 0)
		return e;
	/* The current key must be sound before it becomes previous. */
	if ((e = sigkeys_read(cur, &old)) != 0 && e != VIGIL_ENOTFOUND)
		return e;
	if ((e = jwt_key_generate(&nk)) != 0)
		goto out;
	if (old != NULL && (e = sigkeys_write(dir, "previous.jwk", old)) != 0)
		goto out;
	if ((e = sigkeys_write(dir, "current.jwk", nk)) != 0)
		goto out;
	log_info("keys: rotated in %s: current kid=%s, previous kid=%s", dir,
	    json_string_value(json_object_get(nk, "kid")),
	    old ? json_string_value(json_object_get(old, "kid")) : "-");
	if (kid != NULL)
		snprintf(kid, JWT_KID_MAX + 1, "%s",
		    json_string_value(json_object_get(nk, "kid")));
 out:
	json_decref(nk);
	json_decref(old);
	return e;
}

int
sigkeys_jwks(struct sigkeys *k, json_t **out)
{
	json_t *set, *keys, *pub;
	int e = 0;

	if ((set = json_object()) == NULL || (keys = json_array()) == NULL ||
	    json_object_set_new(set, "keys", keys) != 0) {
		json_decref(set);
		return VIGIL_ENOMEM;
	}
	pthread_mutex_lock(&k->mu);
	sigkeys_refresh(k);
	if ((e = jwt_key_public(k->cur, &pub)) == 0)
		e = json_array_append_new(keys, pub) == 0 ? 0 : VIGIL_ENOMEM;
	if (e == 0 && k->prev != NULL &&
	    (e = jwt_key_public(k->prev, &pub)) == 0)
		e = json_array_append_new(keys, pub) == 0 ? 0 : VIGIL_ENOMEM;
	pthread_mutex_unlock(&k->mu);
	if (e != 0) {
		json_decref(set);
		return e;
	}
	*out = set;
	return 0;
}

int
sigkeys_sign(struct sigkeys *k, const json_t *claims, char **jwt)
{
	json_t *cur;
	int e;

	pthread_mutex_lock(&k->mu);
	sigkeys_refresh(k);
	cur = json_incref(k->cur);
	pthread_mutex_unlock(&k->mu);
	e = jwt_sign_es256(cur, claims, jwt);
	json_decref(cur);
	return e;
}

int
sigkeys_current_kid(struct sigkeys *k, char kid[JWT_KID_MAX + 1])
{
	pthread_mutex_lock(&k->mu);
	sigkeys_refresh(k);
	snprintf(kid, JWT_KID_MAX + 1, "%s",
	    json_string_value(json_object_get(k->cur, "kid")));
	pthread_mutex_unlock(&k->mu);
	return 0;
}
