/* vigil-smmd's measurement log: entries, their hash chain, and the signed
 * head the agent carries with each push (DESIGN.md trust chain, step 4).
 * vigil-smmd writes it; the verifier (appraise_smm.c) checks it with
 * smmlog_verify_head + smmlog_verify_entries and reads entries with
 * smmlog_entry_parse.
 *
 * An entry, all integers little-endian, strings without NUL:
 *
 *   u8  version            SMMLOG_VERSION (2); version 1 differs only in
 *                          KEY_USE (no tenant) and is still parsed, never
 *                          written (docs/smm.md "Log entry": the entries
 *                          are in every existing chain, which signed heads
 *                          cover, so they cannot be rewritten)
 *   u8  kind               SMMLOG_KIND_*
 *   u64 seq                1, 2, 3, ... without gaps, across restarts
 *   u64 time_ms            vigil-smmd's wall clock, ms since the epoch
 *   then by kind:
 *   MEASURE:  u8 tlen, target name (1..SMMLOG_MAX_NAME)
 *             u16 rlen, region (1..SMMLOG_MAX_REGION): for a process the
 *               executable mapping as "PATH@0xFILEOFFSET" (stable across
 *               ASLR), for an image file its path
 *             u64 size        bytes measured
 *             u8[32] root     Merkle root (below)
 *             u8  verdict     SMMLOG_VERDICT_*
 *             u32 n, then n x u32 page index (0-based, 4 KiB pages of the
 *               region), ascending: the pages that differ from the last
 *               measurement of this region that matched its reference
 *               (n = 0 when there was none to compare with); only with
 *               verdict MISMATCH; n <= SMMLOG_MAX_PAGES (a region with
 *               more changed pages lists the first SMMLOG_MAX_PAGES)
 *   KEY_USE:  u8 tlen, tenant (1..64 of [A-Za-z0-9._-]; version 2 only:
 *               the vault's key namespace is (tenant, key id))
 *             u8 idlen, key id (1..64; version 2: [A-Za-z0-9._-])
 *             u8  op          MM_OP_* (mm.h)
 *             u32 uid         caller's uid (SO_PEERCRED)
 *             u8  granted     1 granted, 0 refused
 *             u8  status      MM_ST_* of the answer (why it was refused)
 *             u64 measure_seq the MEASURE entry this decision relied on
 *               (0 if none was taken, e.g. caller refused first)
 *   START:    u32 boot        service starts so far (1 = first), so a
 *               restart (= emulated reboot) is visible in the chain
 *   REFS:     u64 version     a reference set accepted (or baseline: 0)
 *             u8[32] digest   SHA-256 of the set's JSON bytes
 *
 * The Merkle tree: leaf_i = SHA-256(0x00 || page_i) over 4 KiB pages (the
 * last one zero-padded), node = SHA-256(0x01 || left || right), an odd
 * node at the end of a level is promoted unchanged; root of one page =
 * its leaf; root of nothing = SHA-256(0x00).
 *
 * The chain: head_0 = 32 zero bytes; head_i = SHA-256(head_{i-1} ||
 * entry_i) where entry_i are exactly the entry's bytes above.
 *
 * A signed head:
 *
 *   u8  version            1
 *   u8  nonce_len (1..64), nonce
 *   u64 last_seq           the last entry in the chain (0: empty log)
 *   u8[32] head            head_{last_seq}
 *   u16 sig_len, sig       ECDSA P-256 DER signature, SHA-256, by the
 *                          log-signing key, over the byte string
 *     "vigil-smm-head-v1" (17 bytes) || u8 nonce_len || nonce ||
 *     u64le last_seq || head
 */
#ifndef VIGIL_SMM_SMMLOG_H
#define VIGIL_SMM_SMMLOG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"

#define SMMLOG_VERSION		2
#define SMMLOG_VERSION_V1	1	/* KEY_USE without tenant */
#define SMMLOG_HASH_LEN		32
#define SMMLOG_PAGE		4096u
#define SMMLOG_MAX_NAME		64u
#define SMMLOG_MAX_REGION	512u
#define SMMLOG_MAX_PAGES	1024u
#define SMMLOG_MAX_KEYID	64u
#define SMMLOG_MAX_TENANT	64u
#define SMMLOG_MAX_NONCE	64u
#define SMMLOG_HEAD_DOMAIN	"vigil-smm-head-v1"

enum smmlog_kind {
	SMMLOG_KIND_MEASURE = 1,
	SMMLOG_KIND_KEY_USE = 2,
	SMMLOG_KIND_START = 3,
	SMMLOG_KIND_REFS = 4,
};

enum smmlog_verdict {
	SMMLOG_VERDICT_MATCH = 0,
	SMMLOG_VERDICT_MISMATCH = 1,
	SMMLOG_VERDICT_NO_REFERENCE = 2,
	SMMLOG_VERDICT_ERROR = 3,	/* could not read the target */
};

/* A parsed (or to-be-encoded) entry. Strings and pages point into the
 * parsed buffer (or the caller's memory when encoding); strings are not
 * NUL-terminated. */
struct smmlog_entry {
	uint8_t version;	/* parsed: 1 or 2; encoding always writes 2 */
	uint8_t kind;
	uint64_t seq;
	uint64_t time_ms;
	union {
		struct {
			const char *target; size_t target_len;
			const char *region; size_t region_len;
			uint64_t size;
			uint8_t root[SMMLOG_HASH_LEN];
			uint8_t verdict;
			uint32_t n_pages;
			const uint8_t *pages;	/* n_pages x u32le (parsed) */
			const uint32_t *pages_host; /* when encoding */
		} m;
		struct {
			/* tenant_len 0 only in a parsed version-1 entry */
			const char *tenant; size_t tenant_len;
			const char *key_id; size_t key_id_len;
			uint8_t op;
			uint32_t uid;
			uint8_t granted;
			uint8_t status;
			uint64_t measure_seq;
		} k;
		struct { uint32_t boot; } start;
		struct {
			uint64_t version;
			uint8_t digest[SMMLOG_HASH_LEN];
		} refs;
	} u;
};

/* Parses exactly one entry filling all of buf (trailing bytes are an
 * error), of version 2 or 1 (out->version says which). VIGIL_ETRUNC /
 * VIGIL_EINVAL / VIGIL_ETOOBIG, with the failed check logged. */
int smmlog_entry_parse(const uint8_t *buf, size_t len,
    struct smmlog_entry *out);
/* Page i of a parsed MEASURE entry (i < n_pages). */
uint32_t smmlog_entry_page(const struct smmlog_entry *e, uint32_t i);
/* Appends the entry's bytes, version SMMLOG_VERSION (kind MEASURE takes
 * pages from pages_host; KEY_USE needs a tenant). */
int smmlog_entry_encode(const struct smmlog_entry *e, struct buf *out);

/* next = SHA-256(prev || entry). */
int smmlog_chain_next(const uint8_t prev[SMMLOG_HASH_LEN],
    const uint8_t *entry, size_t len, uint8_t next[SMMLOG_HASH_LEN]);

/* Checks n entries continuing a chain accepted up to (prev_seq,
 * prev_head): each parses, entry i has seq prev_seq + 1 + i (a removed or
 * reordered entry fails here), and the chain is advanced over them into
 * (*out_seq, out_head). VIGIL_EVERIFY naming the index and the check. */
int smmlog_verify_entries(uint64_t prev_seq,
    const uint8_t prev_head[SMMLOG_HASH_LEN], const uint8_t *const *entries,
    const size_t *lens, size_t n, uint64_t *out_seq,
    uint8_t out_head[SMMLOG_HASH_LEN]);

/* A parsed signed head; pointers into the parsed buffer. */
struct smmlog_head {
	const uint8_t *nonce; size_t nonce_len;
	uint64_t last_seq;
	uint8_t head[SMMLOG_HASH_LEN];
	const uint8_t *sig; size_t sig_len;
};

int smmlog_head_parse(const uint8_t *buf, size_t len,
    struct smmlog_head *out);
/* Signs (nonce, last_seq, head) with key (P-256 private) and appends the
 * signed head structure to out. */
int smmlog_head_sign(EVP_PKEY *key, const uint8_t *nonce, size_t nonce_len,
    uint64_t last_seq, const uint8_t head[SMMLOG_HASH_LEN], struct buf *out);
/* The verifier's check of a signed head: parses buf, checks the nonce is
 * exactly the one this push was given (an old head replayed fails here),
 * and the signature by the pinned log-signing key (DER
 * SubjectPublicKeyInfo, as in the PCR 2 event; a head by another key
 * fails here). On success gives the head's last_seq and chain head, which
 * the caller compares with smmlog_verify_entries' result and with what it
 * accepted before (a seq going back is a fork). VIGIL_EVERIFY with the
 * failed check logged; VIGIL_EINVAL/ETRUNC for a malformed head. */
int smmlog_verify_head(const uint8_t *buf, size_t len,
    const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
    size_t nonce_len, uint64_t *last_seq, uint8_t head[SMMLOG_HASH_LEN]);

/* Merkle tree helpers (the layout above), used by vigil-smmd's measure.c
 * and by whoever computes reference values from an image. */
void smmlog_leaf(const uint8_t *page, size_t len,
    uint8_t out[SMMLOG_HASH_LEN]);
/* Root over n leaves (n may be 0). */
int smmlog_merkle_root(const uint8_t (*leaves)[SMMLOG_HASH_LEN], size_t n,
    uint8_t root[SMMLOG_HASH_LEN]);

const char *smmlog_kind_name(uint8_t kind);
const char *smmlog_verdict_name(uint8_t verdict);

#endif
