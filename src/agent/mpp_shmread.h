/*  Reading one profiled process's shared mapping (mpp_shm.h) and turning
 *  it into the wire messages (wire.h) the process would have sent itself:
 *  HELLO on the first read, DATA with what changed since the previous read
 *  by the same reader, BYE once the process recorded its end, and, for a
 *  process gone without that record, a last DATA with its open frames
 *  closed at the time of death (mpp_shmread_final).
 *
 *  Why it trusts nothing: the file may be cut short by a process killed
 *  mid-write, or written by a hostile process of the session.  Every
 *  pointer found inside goes through mpp_shm_offset with the length about
 *  to be read, every count is bounded by what the bytes can hold, every
 *  index is checked, and strings must end within the bytes.  A structure
 *  that fails a check is counted (mpp_shmread_corrupt) and skipped; the
 *  rest of the read stands.  Memory is never proportional to a count
 *  beyond what the input bytes can hold.
 *
 *  Why bytes and not a mapping: the agent copies the file with pread
 *  (mpp_shmread_load), so a file truncated under it can never SIGBUS it.
 *
 *  One reader per file (per process incarnation: a fork child has a file
 *  of its own); its messages' seq counts from 0.
 */
#ifndef MPP_SHMREAD_H
#define MPP_SHMREAD_H

#include "mpp_internal.h"

/* At most this many messages come out of one read (HELLO, DATA, BYE). */
#define MPP_SHMREAD_MAXMSG 3

/* The encoded messages of one read, one wire frame each. */
typedef struct {
    mpp_buf_t frame[MPP_SHMREAD_MAXMSG];
    uint32_t type[MPP_SHMREAD_MAXMSG];
    size_t n;
} mpp_shmread_out_t;

void mpp_shmread_out_init(mpp_shmread_out_t *out);
/* Empties the frames, keeping their memory. */
void mpp_shmread_out_reset(mpp_shmread_out_t *out);
void mpp_shmread_out_fini(mpp_shmread_out_t *out);

typedef struct mpp_shmread mpp_shmread_t;

/* `token` (copied) goes into every message.  NULL when out of memory. */
mpp_shmread_t *mpp_shmread_new(const char *token);
void mpp_shmread_destroy(mpp_shmread_t **self_p);

/*  Copies the part in use of the mapping file at `path` (or open `fd`)
 *  with pread into a malloc'd buffer (*bytes, *len; the caller frees).
 *  With `live`, the root's gen is read from the file before and after the
 *  copy; when it is odd or changed, returns -EAGAIN (try again later).
 *  Returns 0, -errno, MPP_EFORMAT/MPP_EVERSION/MPP_ECORRUPT (header), or
 *  MPP_ETRUNC (the file is shorter than its header says is in use; the
 *  bytes that are there are still returned). */
int mpp_shmread_load_fd(int fd, bool live, unsigned char **bytes,
                        size_t *len);
int mpp_shmread_load(const char *path, bool live, unsigned char **bytes,
                     size_t *len);

/*  A read of a running process (or one that recorded its end).  Appends
 *  to `out` the messages due: HELLO first time, DATA when something
 *  changed, BYE once the file holds an exit record (after which the
 *  reader is done and returns 0 with nothing).  Returns 0; -EAGAIN when
 *  the root record is being updated (odd gen: read again later, nothing
 *  was consumed); MPP_EFORMAT/MPP_EVERSION/MPP_ECORRUPT when the file is
 *  unusable as a whole (no header, no root); MPP_ENOMEM. */
int mpp_shmread_read(mpp_shmread_t *self, const void *bytes, size_t len,
                     mpp_shmread_out_t *out);

/*  The last read of a process that is gone without an exit record:
 *  closes every open frame at `now_mono_ns` (CLOCK_MONOTONIC; with the
 *  test clock, a tick count) on private copies exactly as
 *  mpp_tstate_unwind would, and appends HELLO if never sent, the final
 *  DATA and a BYE with `exit_kind` and `exit_code`.  An odd gen is read
 *  anyway (the process died mid-update).  When the file does hold an
 *  exit record, that record wins over the arguments. */
int mpp_shmread_final(mpp_shmread_t *self, const void *bytes, size_t len,
                      int64_t now_mono_ns, uint32_t exit_kind,
                      int32_t exit_code, mpp_shmread_out_t *out);

/* Structures rejected so far (each counted once per read it was seen). */
uint64_t mpp_shmread_corrupt(const mpp_shmread_t *self);
/* True once BYE went out. */
bool mpp_shmread_done(const mpp_shmread_t *self);
/* The pid of the last good root record, 0 before. */
int64_t mpp_shmread_pid(const mpp_shmread_t *self);

#endif
