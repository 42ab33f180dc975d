/*  The aggregator: receives the collectors' frames, validates each one
 *  against the session (version, token, sequence numbers, bounds) and
 *  merges it into the session model.  It never trusts a frame: any process
 *  of the session can send anything to its endpoint.
 *
 *  Units:
 *    mpp_agg.c     the aggregator thread: ZeroMQ PULL socket, stragglers
 *    mpp_ingest.c  frame validation, without sockets (tested)
 *    mpp_apply.c   a validated message into the model; wire function ids
 *                  to session function ids
 *
 *  It knows the wire format and the model; it knows nothing of Python,
 *  the command line or output formats.
 */
#ifndef MPP_AGGREGATOR_H
#define MPP_AGGREGATOR_H

#include <stdio.h>

#include "mpp_session.h"

/* ---- mpp_ingest.c ----------------------------------------------------- */

/*  Validates one raw frame from the socket and merges it into `s`.
 *  Counts s->integrity.messages, .rejected and .seq_gaps.  Returns 0 when
 *  the frame was applied, else why it was rejected: MPP_EPROTO,
 *  MPP_EVERSION, MPP_ETOOBIG, MPP_ETOKEN, MPP_EREPLAY or MPP_ENOMEM.  It
 *  never trusts the frame, whatever its content. */
int mpp_ingest_frame(mpp_session_t *s, const char *token, const void *data,
                     size_t len);

/*  Where a frame came from, when an agent on another host sent it
 *  (mpprof collect): its host and, if its launcher gave one, its rank. */
typedef struct {
    const char *host;
    bool ranked;
    int64_t rank;
    const char *worker; /* a Dask worker's name, or NULL */
    /* Up to two directories of the run's own files on that host (the
     * main script's, as named and resolved), NULL when not known: a file
     * under one is named "<main>/" and its path below it, when the
     * session names files by module (mpp_session_t.by_module). */
    const char *main_dirs[2];
} mpp_origin_t;

/*  mpp_ingest_frame for a frame from `origin` (NULL: this host).  Its
 *  process is looked up among those of the same host, and a new one is
 *  labelled with the host and rank; a new label is MPP_ENOMEM. */
int mpp_ingest_frame_from(mpp_session_t *s, const char *token,
                          const mpp_origin_t *origin, const void *data,
                          size_t len);

/*  True when the process's last incarnation has not said BYE yet. */
bool mpp_ingest_streaming(const mpp_proc_t *p);

/*  Closes the session once nothing more will arrive: every process still
 *  without a BYE is marked ended (the target with its wait status, others
 *  MPP_EXIT_LOST) and counted in processes_lost; dropped events are
 *  summed.  Names them on `note` in one line.  Returns how many. */
size_t mpp_ingest_finish(mpp_session_t *s, int64_t target_pid,
                         int wait_status, FILE *note);

/* ---- mpp_apply.c ------------------------------------------------------ */

/*  The bounds a decoded message must meet before any of it is applied, so
 *  that a frame which fails them changes nothing: today, every function id
 *  it defines is below MPP_WIRE_MAX_FUNCS.  Returns 0 or MPP_ETOOBIG. */
int mpp_apply_check(const mpp_msg_t *msg);

/*  Applies one message that passed mpp_ingest's checks and
 *  mpp_apply_check to `proc`, the record of its process.  Returns 0;
 *  MPP_EPROTO when some entries named a function or a thread the process
 *  never defined (those entries were skipped, the rest applied); or
 *  MPP_ENOMEM (the message may then be applied in part). */
int mpp_apply_msg(mpp_session_t *s, mpp_proc_t *proc, const mpp_msg_t *msg,
                  const mpp_origin_t *origin);

/* ---- mpp_agg.c -------------------------------------------------------- */

typedef struct mpp_agg mpp_agg_t;

/*  Binds a PULL socket at `endpoint` ("ipc://...") for messages carrying
 *  `token`.  The session belongs to the aggregator thread from
 *  mpp_agg_start until mpp_agg_join returns.  Returns NULL and sets *err
 *  on failure: MPP_ENOMEM, MPP_EINVAL (a token of the wrong length), or a
 *  negated errno from ZeroMQ or pipe2. */
mpp_agg_t *mpp_agg_new(const char *endpoint, const char *token,
                       mpp_session_t *session, int *err);

/* Starts the thread.  Returns 0 or a negated errno. */
int mpp_agg_start(mpp_agg_t *self);

/*  Tells the thread that the target has ended: it then waits, bounded,
 *  for the processes that are still streaming, and stops. */
void mpp_agg_target_ended(mpp_agg_t *self);

/*  Adds `frames` to the number of frames the thread must have received
 *  before its final drain stops (bounded at 10 s): a sender that has
 *  finished says how many it handed to its socket, so that none still in
 *  flight is left behind by a quiet moment.  Calling it also says that
 *  this sender is the only one (the launcher's agent, when collectors
 *  have no sockets): once its count is in, the drain stops at once
 *  instead of watching a quiet socket for 50 ms. */
void mpp_agg_expect(mpp_agg_t *self, uint64_t frames);

/* Asks the thread to stop waiting for stragglers at once. */
void mpp_agg_hurry(mpp_agg_t *self);

/* A descriptor that becomes readable when the thread has stopped. */
int mpp_agg_done_fd(const mpp_agg_t *self);

/*  What the session holds so far, for a live status line: processes that
 *  have said anything, those of them that have ended (said BYE), and
 *  their calls.  Only counted after mpp_agg_track_live (before
 *  mpp_agg_start), and then at most every MPP_AGG_LIVE_MS: summing the
 *  calls walks the whole session, which is not worth it otherwise. */
#define MPP_AGG_LIVE_MS 200

typedef struct {
    uint64_t procs;
    uint64_t ended;
    uint64_t calls;
} mpp_agg_live_t;

void mpp_agg_track_live(mpp_agg_t *self);

/*  The latest counts; may be called from any thread.  Each number is
 *  read whole, and all three are from the same moment (a sequence
 *  counter guards them), but they may be up to MPP_AGG_LIVE_MS old. */
void mpp_agg_live(mpp_agg_t *self, mpp_agg_live_t *out);

/* Waits for the thread; the session is the caller's again afterwards. */
void mpp_agg_join(mpp_agg_t *self);

/* Stops and joins the thread if needed, closes the socket. */
void mpp_agg_destroy(mpp_agg_t **self_p);

#endif
