/* libFuzzer target for the UEFI event data parsers (common/bootev.c):
 * UEFI_VARIABLE_DATA, EFI_SIGNATURE_LIST (with X.509 subjects) and the
 * UEFI_IMAGE_LOAD_EVENT device path. Seeds: the event data of the
 * corpus logs' PCR 7 and PCR 4 events (tests/fuzz/README.md). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bootev.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_bootev", LOG_ERR);
	return 0;
}

static int
fuzz_bootev_sig(void *ctx, const struct bootev_sig *s)
{
	if (memchr(s->subject, '\0', sizeof(s->subject)) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bootev_var v;
	char path[256];

	if (bootev_var_parse(data, size, &v) == 0) {
		if (v.data < data || v.data + v.data_len != data + size)
			abort();
		(void)bootev_siglist_walk(v.data, v.data_len, fuzz_bootev_sig,
		    NULL);
	}
	(void)bootev_siglist_walk(data, size, fuzz_bootev_sig, NULL);
	if (bootev_image_path(data, size, path, sizeof(path)) == 0 &&
	    memchr(path, '\0', sizeof(path)) == NULL)
		abort();
	return 0;
}
