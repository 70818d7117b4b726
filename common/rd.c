#include <string.h>

#include "err.h"
#include "rd.h"

int
rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
	if (n > r->left)
		return VIGIL_ETRUNC;
	if (out != NULL)
		*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

int
rd_copy(struct rd *r, void *dst, size_t n)
{
	const uint8_t *p;
	int e;

	if ((e = rd_bytes(r, n, &p)) != 0)
		return e;
	if (n > 0)
		memcpy(dst, p, n);
	return 0;
}

int
rd_skip(struct rd *r, size_t n)
{
	return rd_bytes(r, n, NULL);
}

int
rd_sub(struct rd *r, size_t n, struct rd *sub)
{
	const uint8_t *p;
	int e;

	if ((e = rd_bytes(r, n, &p)) != 0)
		return e;
	rd_init(sub, p, n);
	return 0;
}

int
rd_u8(struct rd *r, uint8_t *out)
{
	return rd_copy(r, out, 1);
}

static int
rd_uint(struct rd *r, size_t n, int big, uint64_t *out)
{
	const uint8_t *p;
	uint64_t v = 0;
	size_t i;
	int e;

	if ((e = rd_bytes(r, n, &p)) != 0)
		return e;
	for (i = 0; i < n; i++)
		v |= (uint64_t)p[big ? i : n - 1 - i] << (8 * (n - 1 - i));
	*out = v;
	return 0;
}

#define RD_UINT(name, type, n, big)				\
int								\
name(struct rd *r, type *out)					\
{								\
	uint64_t v;						\
	int e;							\
								\
	if ((e = rd_uint(r, n, big, &v)) != 0)			\
		return e;					\
	*out = (type)v;						\
	return 0;						\
}

RD_UINT(rd_u16be, uint16_t, 2, 1)
RD_UINT(rd_u32be, uint32_t, 4, 1)
RD_UINT(rd_u64be, uint64_t, 8, 1)
RD_UINT(rd_u16le, uint16_t, 2, 0)
RD_UINT(rd_u32le, uint32_t, 4, 0)
RD_UINT(rd_u64le, uint64_t, 8, 0)
