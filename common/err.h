/* One error space for the whole project: functions return 0 or a negative
 * VIGIL_E* code; vigil_strerror() names it in words. */
#ifndef VIGIL_ERR_H
#define VIGIL_ERR_H

enum vigil_err {
	VIGIL_OK = 0,
	VIGIL_ENOMEM = -1,	/* allocation failed */
	VIGIL_ETRUNC = -2,	/* input shorter than its structure says */
	VIGIL_EINVAL = -3,	/* malformed or out-of-range input */
	VIGIL_ETOOBIG = -4,	/* input over a size limit */
	VIGIL_EIO = -5,		/* file, socket or process failure */
	VIGIL_ETPM = -6,	/* the TPM (or tpm2-tss) refused */
	VIGIL_ECRYPTO = -7,	/* OpenSSL failure or bad signature */
	VIGIL_EDB = -8,		/* SQLite failure */
	VIGIL_ENOTFOUND = -9,	/* no such object */
	VIGIL_EEXIST = -10,	/* already exists / conflicts */
	VIGIL_EDENIED = -11,	/* not allowed */
	VIGIL_ENET = -12,	/* network / HTTP failure */
	VIGIL_EVERIFY = -13,	/* evidence failed a check */
	VIGIL_ESTALE = -14,	/* expired or already used */
	VIGIL_EUNSUPP = -15,	/* valid but not supported */
	VIGIL_ECONFIG = -16,	/* bad configuration */
};

const char *vigil_strerror(int err);

#endif
