/*  The agent: one per host, a thread in the launcher.  It watches the
 *  directory where every profiled process keeps its state in a shared
 *  mapping (src/collector/core/mpp_shm.h, one file `p<pid>-<mono>.mpp`
 *  per process incarnation), reads each file consistently while its
 *  process runs, reads it a last time once the process has ended (its
 *  open frames closed at the time of death), and sends what it read as
 *  wire messages (HELLO, DATA, BYE; include/mpprof/wire.h) over a
 *  ZeroMQ PUSH socket to the aggregator.
 *
 *  Why a thread of its own and not the aggregator's: the agent and the
 *  aggregator stay separable with ZeroMQ between them, so that agents on
 *  other hosts can later reach one aggregator the same way.
 *
 *  What the thread waits on (one poll set): a wake-up pipe (commands from
 *  the launcher), an inotify descriptor on the directory (new files at
 *  once), a pidfd per process (its death at once, even for a grandchild
 *  the launcher cannot wait for), and the read interval.  The directory
 *  is also listed in full every interval, since inotify can overflow.
 *
 *  Nothing in a file is trusted: a file may be cut short, damaged, or
 *  written by a hostile process of the session.  Such files are counted
 *  (mpp_agent_counts) and skipped; the agent never blocks on one (no
 *  FIFO, no symbolic link, no device is opened) and never crashes.
 *
 *  It knows files, processes and ZeroMQ; it knows nothing of Python, the
 *  session model or output formats, and does not link libpython.
 */
#ifndef MPP_AGENT_H
#define MPP_AGENT_H

#include "mpp_internal.h"

typedef struct mpp_agent mpp_agent_t;

/* What the agent did, for the integrity note. */
typedef struct {
    uint64_t files;      /* files read successfully at least once */
    uint64_t frames;     /* frames handed to the socket */
    uint64_t corrupt;    /* structures rejected (mpp_shmread_corrupt) in
                            a file whose process had ended */
    uint64_t torn;       /* rejected while the process ran: most often a
                            copy torn by a change, repaired next read */
    uint64_t unreadable; /* files never parsed at all during the run */
    uint64_t unsent;     /* frames the socket refused or too big */
    uint64_t lost;       /* processes ended with no exit status known */
} mpp_agent_counts_t;

/*  An agent for the mappings in `mapdir`, sending to the aggregator at
 *  `endpoint` ("ipc://...", already bound) messages that carry `token`,
 *  reading every live file each `interval_ms` (<= 0: 100).  Returns NULL
 *  and sets *err: MPP_ENOMEM, MPP_EINVAL, or a negated errno from
 *  ZeroMQ, pipe2 or inotify. */
mpp_agent_t *mpp_agent_new(const char *mapdir, const char *endpoint,
                           const char *token, int interval_ms, int *err);

/*  How an agent reaches an aggregator on another host (`mpprof run
 *  --join`): over TCP, with CURVE when `server_key` (the server's 32-byte
 *  public key) is given, each message preceded by the frame `prefix`
 *  (the run's envelope, see src/net/mpp_net.h) in one multipart message.
 *  Sends never wait more than a moment: what the link cannot take while
 *  the aggregator is unreachable (a bounded queue) is counted unsent, and
 *  since the tables travel as running totals, a later message makes up
 *  for a lost one.  The socket then stays open after the thread ends,
 *  for mpp_agent_send_control, until mpp_agent_destroy, which waits at
 *  most `linger_ms` for what is queued. */
typedef struct {
    const uint8_t *server_key;
    const void *prefix;
    size_t prefix_len;
    int linger_ms;
} mpp_agent_link_t;

mpp_agent_t *mpp_agent_new_link(const char *mapdir, const char *endpoint,
                                const char *token, int interval_ms,
                                const mpp_agent_link_t *link, int *err);

/*  Sends one frame of its own on a link's socket, while the thread does
 *  not run (before mpp_agent_start or after mpp_agent_join).  Returns 0,
 *  MPP_EINVAL without a link, or a negated errno. */
int mpp_agent_send_control(mpp_agent_t *self, const void *data, size_t len);

/*  Replaces the frame sent before each message, before mpp_agent_start.
 *  Returns 0, MPP_EINVAL (no link, or the thread runs) or MPP_ENOMEM. */
int mpp_agent_set_prefix(mpp_agent_t *self, const void *data, size_t len);

/*  Receives one frame the aggregator sent back on a link (an ack), under
 *  the same condition, waiting at most timeout_ms.  Returns its length
 *  (cut to cap), -ETIMEDOUT, MPP_EINVAL or a negated errno. */
int mpp_agent_recv_control(mpp_agent_t *self, void *buf, size_t cap,
                           int timeout_ms);

/* Starts the thread.  Returns 0 or a negated errno. */
int mpp_agent_start(mpp_agent_t *self);

/*  The target has ended, with wait status `wait_status` (as waitpid gave
 *  it) if `pid` > 0.  The thread then keeps going until every process it
 *  has read has had its BYE, or for at most 10 s (the aggregator's
 *  straggler limit), lists the directory a last time, reads what it
 *  finds once more, and stops.  The status serves for the target's own
 *  file when the kernel could not tell the agent (before Linux 6.15, a
 *  process reaped before the agent looked at it). */
void mpp_agent_target_ended(mpp_agent_t *self, int64_t pid, int wait_status);

/* Stop now, after one last pass over the files. */
void mpp_agent_hurry(mpp_agent_t *self);

/* A descriptor that becomes readable when the thread has stopped. */
int mpp_agent_done_fd(const mpp_agent_t *self);

/* Waits for the thread. */
void mpp_agent_join(mpp_agent_t *self);

/*  The counts so far; exact once the thread has been joined (before,
 *  each number is read whole but they may be from different moments). */
void mpp_agent_counts(const mpp_agent_t *self, mpp_agent_counts_t *out);

/* Stops (hurry) and joins the thread if needed; closes everything. */
void mpp_agent_destroy(mpp_agent_t **self_p);

#endif
