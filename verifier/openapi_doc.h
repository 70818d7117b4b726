/* docs/openapi.json compiled into the verifier by docs/embed-openapi.sh:
 * GET /v1/openapi.json serves it unless [server] openapi names a file. */
#ifndef VIGIL_OPENAPI_DOC_H
#define VIGIL_OPENAPI_DOC_H

#include <stddef.h>

extern const char vigil_openapi_json[];
extern const size_t vigil_openapi_json_len;	/* bytes, without the NUL */

#endif
