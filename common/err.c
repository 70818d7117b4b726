#include "err.h"

const char *
vigil_strerror(int err)
{
	switch (err) {
	case VIGIL_OK:		return "success";
	case VIGIL_ENOMEM:	return "out of memory";
	case VIGIL_ETRUNC:	return "input truncated";
	case VIGIL_EINVAL:	return "malformed input";
	case VIGIL_ETOOBIG:	return "input too large";
	case VIGIL_EIO:		return "I/O error";
	case VIGIL_ETPM:	return "TPM error";
	case VIGIL_ECRYPTO:	return "cryptographic failure";
	case VIGIL_EDB:		return "database error";
	case VIGIL_ENOTFOUND:	return "not found";
	case VIGIL_EEXIST:	return "already exists";
	case VIGIL_EDENIED:	return "permission denied";
	case VIGIL_ENET:	return "network error";
	case VIGIL_EVERIFY:	return "verification failed";
	case VIGIL_ESTALE:	return "expired or already used";
	case VIGIL_EUNSUPP:	return "not supported";
	case VIGIL_ECONFIG:	return "configuration error";
	}
	return "unknown error";
}
