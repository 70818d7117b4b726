/* The PSE pins in the store (store_pse.h). */
#include <string.h>

#include "err.h"
#include "log.h"
#include "store_internal.h"
#include "store_pse.h"

/* Copies a blob column of 0..cap bytes; VIGIL_EDB if it is longer. */
static int
store_pse_col(sqlite3_stmt *st, int i, uint8_t *out, size_t cap,
    size_t *len)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);

	*len = 0;
	if (n < 0 || (size_t)n > cap || (n > 0 && p == NULL))
		return VIGIL_EDB;
	if (n > 0)
		memcpy(out, p, (size_t)n);
	*len = (size_t)n;
	return 0;
}

int
store_pse_pins_get(struct store *s, const char *agent_id,
    struct pse_pins *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t n;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if (!store_id_ok(agent_id))
		return VIGIL_EINVAL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT image, platform_pub, transport_pub "
	    "FROM pse_pins WHERE agent_id = ?1", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = store_dberr(db, "read pse pins");
		goto out;
	}
	if ((r = store_pse_col(st, 0, out->image, SHA256_LEN, &n)) != 0 ||
	    n != SHA256_LEN || (r = store_pse_col(st, 1, out->platform_pub,
	    PSE_PIN_MAX_PUB, &out->platform_pub_len)) != 0 ||
	    (r = store_pse_col(st, 2, out->transport_pub, PSE_PIN_MAX_PUB,
	    &out->transport_pub_len)) != 0) {
		r = VIGIL_EDB;
		log_err("store: pse pins of agent=%s are malformed",
		    agent_id);
		memset(out, 0, sizeof(*out));
		goto out;
	}
	out->have = 1;
	r = 0;
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

struct pse_put_job {
	const char *agent_id;
	const struct pse_pins *pins;
	int64_t now;
};

static int
store_job_pse_put(sqlite3 *db, void *arg)
{
	struct pse_put_job *j = arg;
	const struct pse_pins *p = j->pins;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO pse_pins (agent_id, image, "
	    "platform_pub, transport_pub, pinned_at, updated_at) VALUES (?1, "
	    "?2, ?3, ?4, ?5, ?5) ON CONFLICT(agent_id) DO UPDATE SET "
	    "image = ?2, platform_pub = ?3, transport_pub = ?4, "
	    "pinned_at = ?5, updated_at = ?5", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->agent_id);
	store_bind_blob(st, 2, p->image, SHA256_LEN);
	store_bind_blob(st, 3, p->platform_pub, p->platform_pub_len);
	store_bind_blob(st, 4, p->transport_pub, p->transport_pub_len);
	sqlite3_bind_int64(st, 5, j->now);
	r = store_step_done(db, st, "upsert pse pins");
	sqlite3_finalize(st);
	return r;
}

int
store_pse_pins_put(struct store *s, const char *agent_id,
    const struct pse_pins *pins)
{
	struct pse_put_job j;

	if (!store_id_ok(agent_id) || !pins->have ||
	    pins->platform_pub_len > PSE_PIN_MAX_PUB ||
	    pins->transport_pub_len > PSE_PIN_MAX_PUB)
		return VIGIL_EINVAL;
	j.agent_id = agent_id;
	j.pins = pins;
	j.now = store_now();
	return store_write(s, store_job_pse_put, &j);
}

int
store_pse_platform_holder(struct store *s, const char *agent_id,
    const uint8_t *platform_pub, size_t len, char id_out[65])
{
	sqlite3 *db;
	int r;

	if (!store_id_ok(agent_id) || len == 0)
		return VIGIL_EINVAL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	r = store_q_agent_by_blob(db, "SELECT p.agent_id FROM pse_pins p "
	    "JOIN agents a ON a.id = p.agent_id WHERE p.platform_pub = ?1 AND "
	    "p.agent_id <> ?2 AND a.state = 1 ORDER BY p.agent_id LIMIT 1",
	    platform_pub, len, agent_id, id_out,
	    "select pse pins by platform key");
	store_rd_put(s, db);
	return r;
}
