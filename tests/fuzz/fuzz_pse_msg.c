/* libFuzzer target for vigil-psed's socket message parser
 * (enclave/pse_msg.h). Seeds: tests/corpus/pse/ and the round-trip
 * messages of tests/unit/test_pse_msg.c. A crash, sanitizer report or
 * abort() below is a bug: a parsed message must point only into the
 * input, hold its limits, and marshal back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enclave/pse_msg.h"
#include "err.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_pse_msg", LOG_ERR);	/* rejections are expected */
	return 0;
}

static void
fuzz_pse_inside(const struct pse_bytes *b, const uint8_t *data, size_t size)
{
	if (b->len == 0)
		return;
	if (b->p < data || b->p + b->len > data + size)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pse_msg m;
	struct buf out = BUF_INIT;
	size_t i;

	if (pse_msg_parse(data, size, &m) != 0)
		return 0;
	fuzz_pse_inside(&m.detail, data, size);
	fuzz_pse_inside(&m.vm_id, data, size);
	fuzz_pse_inside(&m.source_node, data, size);
	fuzz_pse_inside(&m.ek_pub, data, size);
	fuzz_pse_inside(&m.blob, data, size);
	fuzz_pse_inside(&m.platform_id, data, size);
	fuzz_pse_inside(&m.platform_pub, data, size);
	fuzz_pse_inside(&m.transport_pub, data, size);
	fuzz_pse_inside(&m.sig, data, size);
	fuzz_pse_inside(&m.binding, data, size);
	fuzz_pse_inside(&m.ek_cert, data, size);
	fuzz_pse_inside(&m.state, data, size);
	if (m.n_chain > PSE_MAX_CERTS)
		abort();
	for (i = 0; i < m.n_chain; i++)
		fuzz_pse_inside(&m.chain[i], data, size);
	if (m.vm_id.len > 0 && !pse_msg_id_valid(m.vm_id.p, m.vm_id.len))
		abort();
	/* What parses marshals back to exactly the input. */
	if (pse_msg_marshal(&m, &out) != 0 || out.len != size ||
	    memcmp(out.data, data, size) != 0)
		abort();
	buf_free(&out);
	return 0;
}
