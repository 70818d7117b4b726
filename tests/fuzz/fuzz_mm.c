/* libFuzzer target for the SMM bridge's MM Communicate parser
 * (smm-bridge/mm.h). Any crash, sanitizer report or abort() below is a
 * bug: a refused buffer must come with an error status, a parsed one must
 * point only into the input and rebuild to exactly the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "rd.h"
#include "smm-bridge/mm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_mm", LOG_ERR + 1);	/* rejections are expected */
	return 0;
}

static void
fuzz_mm_inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	if (n > 0 && (p < data || p + n > data + size))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_msg m;
	struct buf b = BUF_INIT;
	const uint8_t *e;
	size_t el;
	struct rd r;
	int rc;

	rc = mm_parse(data, size, &m);
	if (rc != 0) {
		if (m.status == MM_ST_OK || (rc != VIGIL_EINVAL &&
		    rc != VIGIL_ETRUNC && rc != VIGIL_ETOOBIG &&
		    rc != VIGIL_EUNSUPP))
			abort();
		return 0;
	}
	if (!m.reply && m.cmd == MM_CMD_USE_KEY) {
		fuzz_mm_inside(m.req.use_key.data, m.req.use_key.data_len,
		    data, size);
		fuzz_mm_inside(m.req.use_key.tenant, m.req.use_key.tenant_len,
		    data, size);
		fuzz_mm_inside(m.req.use_key.id, m.req.use_key.id_len, data,
		    size);
	} else if (m.status == MM_ST_OK && m.cmd == MM_CMD_READ_LOG) {
		fuzz_mm_inside(m.rep.read_log.entries,
		    m.rep.read_log.entries_len, data, size);
		rd_init(&r, m.rep.read_log.entries, m.rep.read_log.entries_len);
		while (mm_log_entry_next(&r, &e, &el) == 0)
			fuzz_mm_inside(e, el, data, size);
	}
	/* Canonical: what parsed rebuilds to the same bytes. */
	if (mm_build(&m, &b) != 0 || b.len != size ||
	    memcmp(b.data, data, size) != 0)
		abort();
	buf_free(&b);
	return 0;
}
