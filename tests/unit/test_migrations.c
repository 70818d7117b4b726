/* Schema migrations: embedded in order, applied once at open, recorded in
 * schema_version, and a database newer than the binary is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "err.h"
#include "verifier/migrations.h"
#include "verifier/store.h"

struct fx {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-migr.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/v.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	const char *sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static int64_t
query(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static int
latest(void)
{
	return vigil_migrations[vigil_migrations_n - 1].version;
}

static void
test_migrations_are_embedded_in_increasing_order(void **state)
{
	size_t i;

	assert_true(vigil_migrations_n >= 2);
	assert_int_equal(vigil_migrations[0].version, 1);
	assert_string_equal(vigil_migrations[0].name, "0001_schema_version");
	for (i = 1; i < vigil_migrations_n; i++) {
		assert_true(vigil_migrations[i].version >
		    vigil_migrations[i - 1].version);
		assert_non_null(strstr(vigil_migrations[i].sql, ";"));
	}
}

static void
test_migrations_applied_once_and_recorded(void **state)
{
	struct fx *f = *state;
	struct store *s = NULL;
	int v = -1;

	assert_int_equal(store_open(f->path, &s), 0);
	assert_int_equal(store_schema_version(s, &v), 0);
	assert_int_equal(v, latest());
	assert_int_equal(store_ping(s), 0);
	store_close(s);
	assert_int_equal(query(f, "SELECT count(*) FROM schema_version"),
	    (int64_t)vigil_migrations_n);
	assert_int_equal(query(f, "SELECT max(version) FROM schema_version"),
	    latest());
	/* WAL mode is persistent in the file. */
	assert_int_equal(query(f, "SELECT journal_mode = 'wal' FROM "
	    "pragma_journal_mode"), 1);
}

static void
test_migrations_reopen_is_a_noop(void **state)
{
	struct fx *f = *state;
	struct store *s = NULL;
	sqlite3 *db = NULL;
	int v = -1;

	assert_int_equal(store_open(f->path, &s), 0);
	store_close(s);
	/* Mark the recorded rows: a re-run would insert fresh ones. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET "
	    "applied_at = 42", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &s), 0);
	assert_int_equal(store_schema_version(s, &v), 0);
	assert_int_equal(v, latest());
	store_close(s);
	assert_int_equal(query(f, "SELECT count(*) FROM schema_version WHERE "
	    "applied_at = 42"), (int64_t)vigil_migrations_n);
	assert_int_equal(query(f, "SELECT count(*) FROM schema_version"),
	    (int64_t)vigil_migrations_n);
}

static void
test_migrations_refuse_database_newer_than_binary(void **state)
{
	struct fx *f = *state;
	struct store *s = NULL;
	sqlite3 *db = NULL;
	char sql[160];

	assert_int_equal(store_open(f->path, &s), 0);
	store_close(s);
	s = NULL;
	snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, "
	    "'9999_future', 1)", latest() + 1);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &s), VIGIL_EUNSUPP);
	assert_null(s);
}

static void
test_migrations_refuse_unopenable_path(void **state)
{
	struct store *s = NULL;

	assert_int_equal(store_open("/nonexistent-dir/x/v.db", &s),
	    VIGIL_EDB);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_migrations_are_embedded_in_increasing_order),
		cmocka_unit_test_setup_teardown(
		    test_migrations_applied_once_and_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_migrations_reopen_is_a_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_migrations_refuse_database_newer_than_binary, setup,
		    teardown),
		cmocka_unit_test(test_migrations_refuse_unopenable_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
