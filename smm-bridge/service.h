/* vigil-smmd as a library: configuration, the request handler and the
 * serving loop (smmd.c is its main; tests drive the handler directly).
 *
 * Configuration (INI, inih):
 *
 *   [smmd]
 *   socket = /run/vigil/smm.sock       ; the emulator socket
 *   state_dir = /var/lib/vigil-smmd    ; keys, log, references
 *   tcti = swtpm:host=127.0.0.1,port=2321
 *   user = vigil-smm                   ; run as this user when root
 *   verifier_key = /etc/vigil/verifier-refs.pub.pem  ; signs reference sets
 *   chunk_size = 262144                ; bytes read per pause (scans)
 *   pause_bound_ms = 5                 ; a scan pause should stay under it
 *   scan_interval = 10                 ; seconds between periodic scans
 *   baseline_on_first_boot = no        ; yes: first measurement = reference
 *   threads = 0                        ; hashing threads, 0 = all cores
 *   log_level = info
 *
 *   [target:NAME]                      ; one per hypervisor target, in order
 *   pid = 1234                         ; a running process, and/or
 *   pid_file = /run/hv.pid             ;   its pid read at each measurement
 *   image = /usr/sbin/hv               ; an image file
 */
#ifndef VIGIL_SMM_SERVICE_H
#define VIGIL_SMM_SERVICE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "measure.h"
#include "seal.h"

#define SMMD_MAX_TARGETS 16u

struct smmd_target {
	char name[SMMLOG_MAX_NAME + 1];
	pid_t pid;			/* 0: none (or pid_file) */
	char pid_file[1024];
	char image[1024];
};

struct smmd_config {
	char socket[108];
	char state_dir[1024];
	char tcti[512];
	char user[64];
	char verifier_key[1024];
	size_t chunk_size;
	uint64_t pause_bound_us;
	unsigned scan_interval;
	int baseline_on_first_boot;
	unsigned threads;
	char log_level[16];
	size_t n_targets;
	struct smmd_target targets[SMMD_MAX_TARGETS];
};

/* Defaults, then the file. VIGIL_ECONFIG naming the line or key. */
int smmd_config_load(const char *path, struct smmd_config *out);
void smmd_config_defaults(struct smmd_config *out);

struct smmd;

/* Opens the service with keys already unsealed (ownership of *keys is
 * taken, and *keys cleared): log (continued, a START entry appended),
 * vault, reference set, verifier key. */
int smmd_open(const struct smmd_config *cfg, struct seal_keys *keys,
    struct smmd **out);
void smmd_close(struct smmd *d);	/* NULL-safe */

/* Handles one request buffer from a caller with uid, appending the whole
 * reply buffer to reply (always a reply: a refused buffer gets an error
 * status). Targets stopped for a key request or MEASURE stay stopped
 * until smmd_resume, which the caller runs after sending the reply (the
 * hypervisor is suspended for the whole "SMI"). */
int smmd_handle(struct smmd *d, const uint8_t *req, size_t len, uid_t uid,
    struct buf *reply);
void smmd_resume(struct smmd *d);

/* One periodic scan of every target (chunked, pauses timed). */
int smmd_scan(struct smmd *d);
/* The pause histogram so far. */
const struct measure_hist *smmd_hist(const struct smmd *d);

/* Serves on fd (a listening socket) until *stop is set, scanning every
 * scan_interval seconds. */
int smmd_serve(struct smmd *d, int fd, volatile sig_atomic_t *stop);

#endif
