/* The one bounds-checked reader for untrusted bytes (TPM structures, event
 * logs, socket messages). Every read checks what is left before it consumes;
 * on failure nothing is consumed and VIGIL_ETRUNC is returned. */
#ifndef VIGIL_RD_H
#define VIGIL_RD_H

#include <stddef.h>
#include <stdint.h>

struct rd {
	const uint8_t *p;
	size_t left;
};

static inline void
rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->left = len;
}

int rd_u8(struct rd *r, uint8_t *out);
int rd_u16be(struct rd *r, uint16_t *out);
int rd_u32be(struct rd *r, uint32_t *out);
int rd_u64be(struct rd *r, uint64_t *out);
int rd_u16le(struct rd *r, uint16_t *out);
int rd_u32le(struct rd *r, uint32_t *out);
int rd_u64le(struct rd *r, uint64_t *out);
/* Points *out at the next n bytes (no copy) and consumes them. */
int rd_bytes(struct rd *r, size_t n, const uint8_t **out);
int rd_copy(struct rd *r, void *dst, size_t n);
int rd_skip(struct rd *r, size_t n);
/* A sub-reader over the next n bytes, consumed from r. */
int rd_sub(struct rd *r, size_t n, struct rd *sub);

#endif
