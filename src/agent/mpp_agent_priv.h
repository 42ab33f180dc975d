/*  The agent's private state, shared by mpp_agent.c (the thread, the
 *  directory, the socket) and mpp_agent_file.c (one file's life). */
#ifndef MPP_AGENT_PRIV_H
#define MPP_AGENT_PRIV_H

#include "mpp_agent.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "mpp_clock.h"
#include "mpp_shmread.h"
#include "mpprof/wire.h"

/*  After the target's end, a file never read yet holds the agent up only
 *  while it is this young: long enough for a starting process to write
 *  its root record, short enough that a garbage file does not stall the
 *  run. */
#define MPP_AGENT_NEWFILE_GRACE_NS (2000 * 1000000LL)

/*  A living process is first read at a tick once it has been known for
 *  this many read intervals; until then only its death gets it read.
 *  Each read copies the process's whole state: a spawn child that lives
 *  a few hundred milliseconds was copied three or four times at 100 ms
 *  ticks for what one final read gives, 1.4 ms of the agent's CPU per
 *  child (issue 12).  Live reads are for long processes: progress, and
 *  letting the writer free the ended threads it keeps until the agent
 *  has them. */
#define MPP_AGENT_FIRST_LIVE_TICKS 5

/* One mapping file, one process incarnation. */
typedef struct {
    char *name;        /* in the directory */
    int64_t name_pid;  /* from the name */
    int64_t name_mono; /* CLOCK_MONOTONIC when the file was made */
    int64_t first_seen_ns;
    mpp_shmread_t *reader; /* NULL once released */
    int pidfd;             /* the process, -1 when none */
    int64_t pid;           /* whose pidfd: the name's, which the root must
                              name too (s_root) */
    int64_t kstart;        /* its kernel start (mpp_aproc), 0 unknown */
    int64_t cpu_ns;        /* its CPU time, last reading; -1 none */
    uint64_t corrupt_seen; /* mpp_shmread_corrupt already counted */
    int64_t death_ns;      /* CLOCK_MONOTONIC when it was seen ended */
    int ws;                /* its wait status, when status_known */
    bool checked;          /* pid and start compared with the root */
    bool parsed;           /* a read has succeeded */
    bool dead;             /* the process (or its image) has ended */
    bool status_known;     /* ws holds its exit status */
    bool exec_ended;       /* its image was replaced by an exec */
    bool held;             /* dead, status unknown: waits for the end */
    bool forced;           /* must end now with what is known */
    bool finished;         /* nothing more will be read from it */
    bool kept;             /* finished, but the file could not be removed */
    bool released;         /* reader and pidfd gone, counted */
    bool unborn;           /* a fork child's file, still its parent's copy
                              (mpp_agent_file.c, s_root): not counted as
                              unreadable if it stays so */
} mpp_afile_t;

struct mpp_agent {
    char *dir;
    char *token;
    int64_t interval_ns;
    /* How long a living process is known before a tick reads it (s_pass):
     * MPP_AGENT_FIRST_LIVE_TICKS intervals, at most half the grace of a
     * new file. */
    int64_t first_live_ns;
    void *ctx;
    void *sock; /* PUSH, connected to the aggregator */
    /* A link to an aggregator on another host (mpp_agent_new_link): the
     * frame sent before each message, and whether the socket outlives
     * the thread so that the launcher can send the run's last word. */
    void *prefix;
    size_t prefix_len;
    bool remote;
    int ino;     /* inotify on dir, -1 without */
    int wake[2]; /* main -> thread: 'e' target ended, 'h' hurry */
    int done[2]; /* thread -> main: one byte when the thread stops */
    pthread_t thread;
    bool started;
    bool joined;
    bool ended; /* the thread has seen 'e' (or is stopping) */
    _Atomic int64_t target_pid;
    _Atomic int target_ws;

    mpp_afile_t **files;
    size_t nfiles, capfiles;
    struct pollfd *pfd;
    mpp_afile_t **who; /* pfd[i] is who[i]'s pidfd, from i = 2 */
    size_t cappoll;
    mpp_shmread_out_t out;
    unsigned char *rbuf; /* every file is read into it (mpp_afile_read) */
    size_t rcap;
    bool rbuf_busy; /* a read is using rbuf */

    struct {
        _Atomic uint64_t files, frames, corrupt, torn, unreadable, unsent,
            lost;
    } n;
};

/* ---- mpp_agent.c ------------------------------------------------------- */

/*  Sends the frames of one read, in order.  Returns true when every one
 *  went out; the others are counted in unsent. */
bool mpp_agent_send(mpp_agent_t *self, const mpp_shmread_out_t *out);

/* ---- mpp_agent_link.c -------------------------------------------------- */

/*  Sets the socket up for a link (mpp_agent_new_link), before it
 *  connects.  Returns 0, MPP_ENOMEM or a negated errno. */
int mpp_agent_link(mpp_agent_t *self, const mpp_agent_link_t *link);

/* ---- mpp_agent_file.c -------------------------------------------------- */

/*  A file seen for the first time at `now`: its reader, and a pidfd for
 *  the pid in its name (the process's death is then seen at once).
 *  NULL when out of memory. */
mpp_afile_t *mpp_afile_new(mpp_agent_t *a, const char *name, int64_t pid,
                           int64_t mono, int64_t now);

/*  One read: live while the process runs, the final one once it has
 *  ended; sends what it gives.  Marks the file finished after its BYE,
 *  or when it is gone or its process ended with nothing readable. */
void mpp_afile_read(mpp_agent_t *a, mpp_afile_t *f, int64_t now);

/* The pidfd fired: the process ended at `now`. */
void mpp_afile_died(mpp_agent_t *a, mpp_afile_t *f, int64_t now);

/*  Once the target has ended: dead processes whose status nobody could
 *  tell get the target's own status (the target's file) or none. */
void mpp_afile_settle_held(mpp_agent_t *a, int64_t now);

/* Closes the pidfd and frees the reader; counts a file never parsed. */
void mpp_afile_release(mpp_agent_t *a, mpp_afile_t *f);
void mpp_afile_destroy(mpp_agent_t *a, mpp_afile_t **f_p);

#endif
