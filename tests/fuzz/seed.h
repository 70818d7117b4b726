/* The fuzz targets' seed files: DIR/NAME holding an optional selector
 * byte (a target's first input byte picks what the rest is) and the bytes;
 * nothing when dir is NULL (VIGIL_FUZZ_SEED_DIR unset). A seed that cannot
 * be written aborts: the harness is broken, not the input. */
#ifndef VIGIL_FUZZ_SEED_H
#define VIGIL_FUZZ_SEED_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

#define FUZZ_SEED_NO_SELECTOR (-1)

static inline void
fuzz_seed_write(const char *dir, const char *name, int sel,
    const struct buf *b)
{
	struct buf f = BUF_INIT;
	char path[4096];

	if (dir == NULL)
		return;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) ||
	    (sel != FUZZ_SEED_NO_SELECTOR && buf_add_u8(&f, (uint8_t)sel)) ||
	    buf_add(&f, b->data, b->len) != 0 ||
	    file_write_atomic(path, f.data, f.len) != 0)
		abort();
	buf_free(&f);
}

#endif
