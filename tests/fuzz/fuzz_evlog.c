/* libFuzzer target for the TCG event log parser and replay. Seeds: see
 * tests/fuzz/README.md. Any crash, sanitizer report or abort() below is a
 * bug: a parsed log must point only into the input and hold its limits. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "evlog.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_evlog", LOG_ERR);	/* rejections are expected */
	return 0;
}

/* Checks what evlog_parse promises of a log it returned. */
static void
fuzz_evlog_check(const struct evlog *log, const uint8_t *data, size_t size)
{
	const struct evlog_event *ev;
	size_t i;

	if (log->n > EVLOG_MAX_EVENTS || (log->n > 0 && log->ev == NULL))
		abort();
	for (i = 0; i < log->n; i++) {
		ev = &log->ev[i];
		if (ev->pcr >= PCR_COUNT || ev->offset >= size ||
		    ev->data_len > EVLOG_MAX_EVENT_DATA ||
		    (ev->data_len > 0 && (ev->data < data ||
		    ev->data + ev->data_len > data + size)))
			abort();
		if (i > 0 && ev->offset <= log->ev[i - 1].offset)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pcr[PCR_COUNT][SHA256_LEN];
	struct evlog *log = NULL;
	uint32_t touched;
	int e;

	e = evlog_parse(data, size, &log);
	if (e != 0) {
		if (log != NULL || (e != VIGIL_ETRUNC && e != VIGIL_EINVAL &&
		    e != VIGIL_ETOOBIG && e != VIGIL_ENOMEM))
			abort();
		return 0;
	}
	fuzz_evlog_check(log, data, size);
	e = evlog_replay(log, EVLOG_SHA256, pcr, &touched);
	if (e != 0 && e != VIGIL_EINVAL)
		abort();
	e = evlog_replay(log, EVLOG_SHA1, pcr, &touched);
	if (e != 0 && e != VIGIL_EINVAL)
		abort();
	evlog_free(log);
	return 0;
}
