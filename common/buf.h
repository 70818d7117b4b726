/* A growable byte buffer for building outputs (never for parsing: use rd). */
#ifndef VIGIL_BUF_H
#define VIGIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

int buf_reserve(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *p, size_t n);
int buf_add_u8(struct buf *b, uint8_t v);
int buf_add_u16be(struct buf *b, uint16_t v);
int buf_add_u32be(struct buf *b, uint32_t v);
int buf_add_u64be(struct buf *b, uint64_t v);
int buf_add_u16le(struct buf *b, uint16_t v);
int buf_add_u32le(struct buf *b, uint32_t v);
int buf_add_u64le(struct buf *b, uint64_t v);
/* Frees the storage; the struct may be reused after. */
void buf_free(struct buf *b);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *p, size_t n, char *out);
/* Decodes exactly outlen bytes from a hex string of 2*outlen chars. */
int hex_decode(const char *s, uint8_t *out, size_t outlen);

/* Reads a whole file, refusing more than max bytes. Caller frees *out. */
int file_read(const char *path, size_t max, uint8_t **out, size_t *len);
/* Writes atomically (temp file, fsync, rename). */
int file_write_atomic(const char *path, const void *p, size_t len);

#endif
