/*  Across hosts (issue 15): `mpprof collect` runs an aggregator that
 *  agents on other hosts reach over ZeroMQ TCP, and `mpprof run --join`
 *  points a run's agent at it.
 *
 *  Units:
 *    mpp_join.c      the join string: what a run needs to reach the
 *                    aggregator (endpoint, server key, token)
 *    mpp_envelope.c  the frame an agent sends before each message, and
 *                    on its own when a run joins and ends
 *    mpp_netagg.c    the aggregator's TCP socket: CURVE, refused
 *                    handshakes, envelopes, runs
 *
 *  Why an envelope and not a new wire field: a collector's message says
 *  nothing of its host (it cannot know how it will travel), and pids are
 *  only unique per host.  The agent knows: it stamps every message it
 *  forwards with its host, its rank and its run, so the aggregator keys
 *  processes by host, pid and start time, and the local path (ipc, one
 *  frame per message) stays as it is.
 */
#ifndef MPP_NET_H
#define MPP_NET_H

#include <stdio.h>

#include "mpp_aggregator.h"

#define MPP_NET_KEY_LEN 32      /* a CURVE public key, in bytes */
#define MPP_NET_MAX_ENDPOINT 255
#define MPP_NET_MAX_HOST 255
#define MPP_NET_RUN_LEN 16      /* hex characters of a run's id */
#define MPP_NET_MAX_WHAT 1024   /* a run's command, as one line */

/* ---- mpp_join.c -------------------------------------------------------- */

/*  "mpprof1,<endpoint>,<server key: 64 hex | insecure>,<token: 32 hex>":
 *  commas and hex only, so it needs no quoting in a shell, and a pasted
 *  string whose key is damaged fails to parse instead of meeting a
 *  stranger's server. */
typedef struct {
    char endpoint[MPP_NET_MAX_ENDPOINT + 1];
    bool secure;
    uint8_t key[MPP_NET_KEY_LEN];
    char token[MPP_TOKEN_LEN + 1];
} mpp_join_t;

/*  Parses a join string, or "@FILE" naming a file whose first line is
 *  one.  Returns 0, MPP_EINVAL (with *why saying what is wrong), or a
 *  negated errno for the file. */
int mpp_join_parse(const char *text, mpp_join_t *out, const char **why);

/* Formats `j` into buf.  Returns its length, or MPP_EINVAL if too long. */
int mpp_join_format(const mpp_join_t *j, char *buf, size_t cap);

/* Fills buf with 2 * n random hex characters.  Returns 0 or -EIO. */
int mpp_random_hex(char *buf, size_t n);

/*  This host's name for the profile: $MPPROF_HOST if set (simulated
 *  hosts share a kernel's name), else gethostname.  Never empty. */
void mpp_host_name(char *buf, size_t cap);

/*  The rank the launcher gave this process, from the first of
 *  OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK and SLURM_PROCID that holds
 *  a number.  Returns true with *rank set, or false. */
bool mpp_host_rank(int64_t *rank);

/* ---- mpp_envelope.c ---------------------------------------------------- */

typedef enum {
    MPP_ENV_DATA = 1, /* a wire message follows in the next part */
    MPP_ENV_JOIN = 2, /* a run has started */
    MPP_ENV_END = 3,  /* a run has ended: all of its messages were sent */
    MPP_ENV_CLOCK = 4 /* a clock reading: asked for (offset_err_ns -1, the
                         aggregator acks it) or its result, which holds at
                         the sender's time sent_ns */
} mpp_env_kind_t;

/*  ["mpp-agent", 1, kind, token, host, rank|nil, run, sent_ns, status,
 *   what, offset_ns, offset_err_ns, worker, main_dir, main_realdir]:
 *  sent_ns is the sender's
 *  CLOCK_REALTIME, status the run's exit status (END), what its command
 *  (JOIN), offset_ns what to add to the sender's clock to read the
 *  aggregator's, within offset_err_ns (-1: not measured).
 *
 *  The aggregator answers a JOIN, an END or a CLOCK asking for a reading
 *  with an ack (mpp_ack_*), to the sender alone: the run learns its
 *  clock's offset from the round trip, and that its end (so everything it
 *  sent before, on the same connection) has arrived.  A JOIN may be sent
 *  again: it counts once.  Every reading a run makes (at its join, every
 *  few seconds while it streams, at its end) goes back to the aggregator
 *  as a CLOCK with the result, so that each host's times are moved by the
 *  offset of their moment (mpp_clockfit), not one offset for a whole run
 *  whose clock may be stepped or drift meanwhile. */
typedef struct {
    int kind;
    char token[MPP_WIRE_MAX_TOKEN + 1];
    char host[MPP_NET_MAX_HOST + 1];
    bool ranked;
    int64_t rank;
    char run[MPP_NET_RUN_LEN + 1];
    int64_t sent_ns;
    int32_t status;
    char what[MPP_NET_MAX_WHAT + 1];
    int64_t offset_ns;
    int64_t offset_err_ns;
    char worker[MPP_NET_MAX_HOST + 1]; /* a Dask worker's name, or "" */
    /* Where the run's own files are on its host: the main script's
     * directory as Python names it (the working directory for -m and
     * -c), and the same with symbolic links resolved (sys.path[0]), or ""
     * when that is the same.  The aggregator names files under either by
     * their place in it, so that one job run from different directories
     * on two hosts merges (see mpp_origin_t). */
    char main_dir[MPP_NET_MAX_WHAT + 1];
    char main_realdir[MPP_NET_MAX_WHAT + 1];
} mpp_envelope_t;

/*  The ack: "mppack", the kind acknowledged, the aggregator's
 *  CLOCK_REALTIME when it answered, and the sent_ns of the envelope it
 *  answers (little-endian).  The echo is what lets a run tell the ack of
 *  its reading from the late ack of an earlier one, which would make the
 *  round trip look shorter than it was and the offset wrong. */
#define MPP_ACK_LEN 23
void mpp_ack_encode(int kind, int64_t real_ns, int64_t echo_ns,
                    uint8_t out[MPP_ACK_LEN]);
/* Returns 0, or MPP_EPROTO when `data` is not an ack. */
int mpp_ack_decode(const void *data, size_t len, int *kind,
                   int64_t *real_ns, int64_t *echo_ns);

/* ---- mpp_clockfit.c ---------------------------------------------------- */

/*  One host's clock against the aggregator's, from the readings its runs
 *  made: each says that at the host's time `at_ns` its clock read
 *  `offset_ns` less than ours, within `err_ns` (half a round trip).
 *  Between two readings the offset is interpolated (a drifting clock),
 *  before the first and after the last it is theirs; a reading whose
 *  error is far above its neighbours' is passed over (a round trip held
 *  up by a busy machine says little).  Readings are kept sorted by at_ns;
 *  past MPP_CLOCKFIT_MAX every other one is dropped, so a long run keeps
 *  readings across its whole length. */
#define MPP_CLOCKFIT_MAX 4096

typedef struct mpp_clockfit mpp_clockfit_t;

mpp_clockfit_t *mpp_clockfit_new(void);
void mpp_clockfit_destroy(mpp_clockfit_t **self_p);

/* Adds a reading.  Returns 0, MPP_EINVAL (err_ns < 0) or MPP_ENOMEM. */
int mpp_clockfit_add(mpp_clockfit_t *self, int64_t at_ns, int64_t offset_ns,
                     int64_t err_ns);

/* The number of readings kept. */
size_t mpp_clockfit_count(const mpp_clockfit_t *self);

/*  What to add to the host's time `at_ns` to read ours, and how wrong
 *  that may be (the larger error of the readings it comes from).
 *  Returns false when there is no reading. */
bool mpp_clockfit_at(const mpp_clockfit_t *self, int64_t at_ns,
                     int64_t *offset_ns, int64_t *err_ns);

/*  The offsets at the first and the last reading kept, and the largest
 *  error among those used.  Returns false when there is no reading. */
bool mpp_clockfit_range(const mpp_clockfit_t *self, int64_t *first_ns,
                        int64_t *last_ns, int64_t *max_err_ns);

/* ---- mpp_clockprobe.c -------------------------------------------------- */

/*  A run's clock readings while it streams: a thread of its own, with a
 *  connection of its own to the aggregator (the agent's socket belongs to
 *  the agent's thread), makes a reading every period_ms (the best of a
 *  few round trips) and sends each result as a CLOCK envelope.  It never
 *  holds the run up: a reading whose ack does not come in time is given
 *  up, and the next one tried at its time. */
typedef struct mpp_clockprobe mpp_clockprobe_t;

/*  Starts it, for the run whose envelope is `env` (host, run, token).
 *  Returns NULL and sets *err: MPP_ENOMEM or a negated errno. */
mpp_clockprobe_t *mpp_clockprobe_new(const mpp_join_t *join,
                                     const mpp_envelope_t *env,
                                     int period_ms, int *err);

/* The readings it has made and sent so far. */
uint64_t mpp_clockprobe_readings(const mpp_clockprobe_t *self);

/* Stops the thread and closes the connection. */
void mpp_clockprobe_destroy(mpp_clockprobe_t **self_p);

/*  One reading's arithmetic: we sent at t1 (our wall clock), the
 *  aggregator's clock read t2 when it answered, and the answer came
 *  rtt_ns later than t1 (by a monotonic clock, which no step moves).
 *  Sets the result: at our time *at_ns (the middle of the round trip) the
 *  aggregator's clock read *offset_ns more, within *err_ns. */
void mpp_clock_reading(int64_t t1, int64_t t2, int64_t rtt_ns,
                       int64_t *at_ns, int64_t *offset_ns, int64_t *err_ns);

/*  Encodes `e` into a malloc'd buffer.  Returns 0 or MPP_ENOMEM. */
int mpp_envelope_encode(const mpp_envelope_t *e, void **data, size_t *len);

/*  Decodes untrusted bytes.  Returns 0 or MPP_EPROTO; every string is
 *  bounded and terminated, hosts and runs hold no control characters. */
int mpp_envelope_decode(const void *data, size_t len, mpp_envelope_t *e);

/* ---- mpp_netagg.c ------------------------------------------------------ */

typedef struct mpp_netagg mpp_netagg_t;

typedef struct {
    const char *bind; /* "tcp://127.0.0.1:0" picks a free port */
    bool insecure;    /* plain TCP: no CURVE */
} mpp_netagg_opts_t;

typedef struct {
    uint64_t runs_joined;
    uint64_t runs_ended;
    uint64_t refused;   /* connections whose handshake failed: a wrong
                           server key, or no CURVE where it is wanted */
    uint64_t rejected;  /* messages whose envelope was missing, damaged
                           or carried a wrong token (also counted in the
                           session's integrity.rejected) */
    uint64_t messages;  /* received, whole (all parts) */
    uint64_t bytes;     /* their size, all parts */
    int32_t exit_status; /* the first non-zero exit of an ended run */
    int64_t first_ns;    /* monotonic: the first message, 0 before */
    int64_t last_ns;     /* monotonic: the latest message */
} mpp_netagg_counts_t;

/*  Binds the socket and makes the session's key and token.  Returns NULL
 *  and sets *err: MPP_ENOMEM, MPP_EINVAL (CURVE missing from libzmq), or
 *  a negated errno from ZeroMQ. */
mpp_netagg_t *mpp_netagg_new(const mpp_netagg_opts_t *o,
                             mpp_session_t *session, int *err);

/* The join string, with the port actually bound. */
const char *mpp_netagg_join_string(const mpp_netagg_t *self);

/*  Waits at most timeout_ms (-1: no limit) for frames, on the socket and
 *  on `fd` (-1: none), and handles what came, a bounded batch.  Sets
 *  *fd_ready when `fd` became readable.  Returns the number of messages
 *  handled, or a negated errno when polling failed. */
int mpp_netagg_step(mpp_netagg_t *self, int timeout_ms, int fd,
                    bool *fd_ready);

void mpp_netagg_counts(const mpp_netagg_t *self, mpp_netagg_counts_t *out);

/* The command of the first run that joined, or NULL. */
const char *mpp_netagg_first_command(const mpp_netagg_t *self);

/*  One line per host on `out`: its processes, runs and ranks, and the
 *  estimate of its clock's offset from this one (see mpp_netagg.c). */
void mpp_netagg_hosts(const mpp_netagg_t *self, FILE *out);

/*  Moves the times of each host's processes (starts, spans) onto this
 *  host's clock, by the offset its runs measured; hosts without a
 *  measurement keep their own clocks. */
void mpp_netagg_align_clocks(const mpp_netagg_t *self);

void mpp_netagg_destroy(mpp_netagg_t **self_p);

#endif
