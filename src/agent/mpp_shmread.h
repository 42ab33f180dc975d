/*  Reading one profiled process's shared mapping (mpp_shm.h) and turning
 *  it into the wire messages (wire.h) the process would have sent itself:
 *  HELLO on the first read, DATA with what changed since the previous read
 *  by the same reader, BYE once the process recorded its end, and, for a
 *  process gone without that record, a last DATA with its open frames
 *  closed at the time of death (mpp_shmread_final).  DATA's dropped
 *  counts the process's own dropped events plus the spans its ring
 *  overwrote before this reader read them; cpu_ns is the best figure
 *  known (mpp_shmread_set_cpu_ns).
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
int mpp_shmread_load_fd(int fd, bool live, unsigned char **bytes, size_t *len);

/*  The same into a buffer the caller keeps from one read to the next
 *  (*buf of *cap bytes, NULL and 0 at first; grown with realloc, freed by
 *  the caller): the agent reads every process through one buffer, whose
 *  pages are then already the agent's.  A fresh buffer per read took a
 *  page fault per 4 KiB copied, the larger part of copying a fork
 *  child's state (issue 12).  *len is what was copied, also on
 *  MPP_ETRUNC. */
int mpp_shmread_load_into(int fd, bool live, unsigned char **buf, size_t *cap,
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

/*  Tells the writer, through its file (open for writing as `fd`), that
 *  the frames of the last successful mpp_shmread_read have been
 *  delivered: the threads that had ended by that snapshot were read with
 *  their final numbers, and the process may free them (mpp_shm_root.h).
 *  Call it after those frames are queued to the aggregator, and only for
 *  reads of bytes loaded `live` (a consistent snapshot).  Writes only
 *  when there is something new.  Returns 0, -errno, or -EIO (a short
 *  write). */
int mpp_shmread_ack(mpp_shmread_t *self, int fd);

/*  The process's CPU time as the agent observed it (/proc/<pid>/stat's
 *  utime + stime, in ns), for a process killed before it recorded its
 *  own at the end.  DATA and BYE carry the larger of this and the
 *  process's own latest figure; a smaller value than one given before
 *  is ignored. */
void mpp_shmread_set_cpu_ns(mpp_shmread_t *self, int64_t cpu_ns);

/* Structures rejected so far (each counted once per read it was seen). */
uint64_t mpp_shmread_corrupt(const mpp_shmread_t *self);
/* True once BYE went out. */
bool mpp_shmread_done(const mpp_shmread_t *self);
/* The pid of the last good root record, 0 before. */
int64_t mpp_shmread_pid(const mpp_shmread_t *self);

#endif
