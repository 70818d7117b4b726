/* Schema migrations compiled in from db/migrations/ by db/embed.sh. */
#ifndef VIGIL_MIGRATIONS_H
#define VIGIL_MIGRATIONS_H

#include <stddef.h>

struct migration {
	int version;		/* NNNN of NNNN_name.sql */
	const char *name;
	const char *sql;
};

extern const struct migration vigil_migrations[];
extern const size_t vigil_migrations_n;

#endif
