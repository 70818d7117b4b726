/* Token listing (see store_tokens.h), beside store_agents.c's add, lookup
 * and revoke. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store_internal.h"
#include "store_tokens.h"

#define STORE_TOKENS_MAX 100000		/* a sanity bound on the table */

int
store_token_list(struct store *s, struct token_info **rows, size_t *n)
{
	struct token_info *v = NULL, *t;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0, cap = 0;
	const void *h;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT hash, role, tenant, label, "
	    "created_at, coalesce(revoked_at, 0) FROM tokens "
	    "ORDER BY created_at, hash", &st)) != 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == STORE_TOKENS_MAX) {
			r = VIGIL_ETOOBIG;
			goto out;
		}
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			if ((t = realloc(v, cap * sizeof(*v))) == NULL) {
				r = VIGIL_ENOMEM;
				goto out;
			}
			v = t;
		}
		t = &v[k];
		memset(t, 0, sizeof(*t));
		h = sqlite3_column_blob(st, 0);
		if (h == NULL || sqlite3_column_bytes(st, 0) != SHA256_LEN) {
			r = VIGIL_EDB;
			goto out;
		}
		memcpy(t->hash, h, SHA256_LEN);
		store_col_str(st, 1, t->role, sizeof(t->role));
		store_col_str(st, 2, t->tenant, sizeof(t->tenant));
		store_col_str(st, 3, t->label, sizeof(t->label));
		t->created_at = sqlite3_column_int64(st, 4);
		t->revoked_at = sqlite3_column_int64(st, 5);
		k++;
	}
	if (rc != SQLITE_DONE) {
		r = store_dberr(db, "list tokens");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
 out:
	free(v);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}
