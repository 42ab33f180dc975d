/*  One mapping file's life in the agent (see mpp_agent_priv.h): first
 *  sight, live reads, the process's end, the final read, the exit kind.
 *
 *  The exit kind of a process that ended without recording its end:
 *  the wait status the kernel gives (mpp_aproc_exit_status: pidfd info
 *  on Linux >= 6.15, else /proc while it is a zombie) mapped as the
 *  launcher maps the target's.  When the kernel cannot tell, the file is
 *  held until the target has ended, and then gets the target's status
 *  if it is the target's file (the launcher reaped it), else
 *  MPP_EXIT_LOST: only when nothing at all is known.
 *
 *  An exec: the pid stays, the kernel's start time stays, and the new
 *  image makes a new file (start method "exec").  The old image's file
 *  is then final: it is read a last time with its frames closed when the
 *  new file was made, and ends as MPP_EXIT_OK with code 0 unless it
 *  recorded its own end (what the collector's os.exec* wrappers
 *  recorded before they went).
 */
#include "mpp_agent_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpp_aproc.h"
#include "mpp_shm.h"
#include "mpp_shm_root.h"

/*  What the agent hands the reader: the process's CPU time as the kernel
 *  counted it (the process's own figure stops at its last cold point),
 *  and, once a read's frames went out, what it consumed, so the writer
 *  can free the ended threads it was keeping for the agent. */
static void
s_hand_cpu(mpp_afile_t *f)
{
    if (f->cpu_ns >= 0) {
        mpp_shmread_set_cpu_ns(f->reader, f->cpu_ns);
    }
}

static void
s_ack(mpp_afile_t *f, int fd)
{
    (void)mpp_shmread_ack(f->reader, fd);
}

static void
s_close_pidfd(mpp_afile_t *f)
{
    if (f->pidfd >= 0) {
        close(f->pidfd);
        f->pidfd = -1;
    }
}

/*  Follows process `pid`: a pidfd and its kernel start time.  A pid with
 *  no process is dead from `now` on, with no status known.  Without a
 *  pidfd for another reason (ENOSYS before Linux 5.3, a sandbox's EPERM,
 *  EMFILE) the process is followed by polling /proc at every read
 *  (mpp_aproc_gone): never taken for dead because a pidfd was missing. */
static void
s_follow(mpp_afile_t *f, int64_t pid, int64_t now)
{
    s_close_pidfd(f);
    f->pid = pid;
    f->kstart = 0;
    int fd = mpp_aproc_pidfd(pid);
    mpp_aproc_stat_t st;
    int src = mpp_aproc_stat(pid, &st);
    if (fd == -ESRCH || (fd < 0 && (src == -ENOENT || src == -ESRCH))) {
        f->dead = true;
        f->death_ns = now;
        return;
    }
    f->pidfd = fd >= 0 ? fd : -1;
    if (src == 0) {
        f->kstart = st.start_mono_ns;
    }
}

mpp_afile_t *
mpp_afile_new(mpp_agent_t *a, const char *name, int64_t pid, int64_t mono,
              int64_t now)
{
    mpp_afile_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }
    f->name = strdup(name);
    f->reader = mpp_shmread_new(a->token);
    if (f->name == NULL || f->reader == NULL) {
        mpp_shmread_destroy(&f->reader);
        free(f->name);
        free(f);
        return NULL;
    }
    f->name_pid = pid;
    f->name_mono = mono;
    f->first_seen_ns = now;
    f->cpu_ns = -1;
    f->pidfd = -1;
    s_follow(f, pid, now);
    return f;
}

/*  Opens the file without following a link and without blocking (a FIFO
 *  planted in the directory must not stall the agent); only a regular
 *  file is read.  Read-write when allowed, for the acknowledgement. */
static int
s_open(const mpp_agent_t *a, const mpp_afile_t *f)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", a->dir, f->name);
    if (n <= 0 || (size_t)n >= sizeof(path)) {
        return -ENAMETOOLONG;
    }
    int flags = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    int fd = open(path, O_RDWR | flags);
    if (fd < 0 && (errno == EACCES || errno == EROFS)) {
        fd = open(path, O_RDONLY | flags);
    }
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return MPP_EFORMAT;
    }
    return fd;
}

/*  True when the header claims more bytes in use than any collector can
 *  have (its whole reserve, MPP_SHM_RESERVE_DEFAULT): a forged file,
 *  perhaps sparse, that would make every read copy gigabytes of zeros.
 *  Such a file is never read. */
static bool
s_oversized(int fd)
{
    mpp_shm_hdr_t hdr;
    ssize_t n;
    do {
        n = pread(fd, &hdr, sizeof(hdr), 0);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(hdr) &&
           memcmp(hdr.magic, MPP_SHM_MAGIC, sizeof(MPP_SHM_MAGIC)) == 0 &&
           hdr.used > MPP_SHM_RESERVE_DEFAULT;
}

/*  The root record of a copy, checked for lying inside it and for being
 *  the root of the process the file is named after.  A fork child's file
 *  holds its parent's state, root included, from the fork until the
 *  child's first event starts its own incarnation (mpp_core_after_fork):
 *  until then the header already names the child and the root still the
 *  parent, and reading it would send the parent's numbers under the
 *  parent's pid.  *unborn says that is the case. */
static bool
s_root(const mpp_afile_t *f, const unsigned char *b, size_t len,
       mpp_shm_root_t *root, bool *unborn)
{
    mpp_shm_hdr_t hdr;
    uint64_t off;
    *unborn = false;
    if (b == NULL || len < sizeof(hdr)) {
        return false;
    }
    memcpy(&hdr, b, sizeof(hdr));
    if (mpp_shm_check_hdr(&hdr, hdr.reserve) < 0 || hdr.root == 0) {
        return false;
    }
    if (hdr.used > len) {
        hdr.used = len;
    }
    if (mpp_shm_offset(&hdr, hdr.root, sizeof(*root), &off) < 0) {
        return false;
    }
    memcpy(root, b + off, sizeof(*root));
    if (root->pid != f->name_pid) {
        *unborn = hdr.pid == f->name_pid;
        return false;
    }
    return true;
}

/*  The first good root: is the process behind our pidfd the one that
 *  wrote the file?  A process that started after the file's did
 *  (mpp_aproc_same_process) took a pid whose first owner is gone. */
static void
s_check(mpp_afile_t *f, const mpp_shm_root_t *root, int64_t now)
{
    f->checked = true;
    if (f->dead) {
        return;
    }
    if (f->kstart != 0 &&
        !mpp_aproc_same_process(f->kstart, root->start_mono_ns)) {
        s_close_pidfd(f);
        f->dead = true;
        f->death_ns = now;
    }
}

/*  The CPU time of the living process, kept only when the pid was still
 *  its own after the reading. */
static void
s_cpu(mpp_afile_t *f)
{
    int64_t ns;
    if (!f->checked || f->dead || mpp_aproc_cpu_ns(f->pid, &ns) != 0) {
        return;
    }
    bool still = f->pidfd >= 0 ? !mpp_aproc_exited(f->pidfd)
                               : !mpp_aproc_gone(f->pid, f->kstart);
    if (still) {
        f->cpu_ns = ns;
    }
}

/*  Counts the structures the last read rejected.  A live read copies
 *  tables the process may be changing under it (only the root record is
 *  bracketed by its gen), so a rejection there is most often a torn copy
 *  that the next read repairs: counted apart.  Once the process has ended
 *  (a final read, or the read that found its exit record) nothing moves
 *  any more, and a rejection is real damage. */
static void
s_count_corrupt(mpp_agent_t *a, mpp_afile_t *f)
{
    uint64_t c = mpp_shmread_corrupt(f->reader);
    if (c > f->corrupt_seen) {
        bool settled = f->dead || mpp_shmread_done(f->reader);
        atomic_fetch_add(settled ? &a->n.corrupt : &a->n.torn,
                         c - f->corrupt_seen);
        f->corrupt_seen = c;
    }
}

/*  The exit kind and code of the final read; false when it must wait
 *  (nothing known yet, and the target's status may still come). */
static bool
s_exit(mpp_agent_t *a, mpp_afile_t *f, bool recorded, uint32_t *kind,
       int32_t *code)
{
    *kind = MPP_EXIT_LOST;
    *code = 0;
    if (recorded) {
        return true; /* the file's own record wins in the reader */
    }
    if (f->exec_ended) {
        *kind = MPP_EXIT_OK;
        return true;
    }
    if (f->status_known) {
        mpp_aproc_exit_kind(f->ws, kind, code);
        return true;
    }
    if (!a->ended && !f->forced) {
        f->held = true;
        return false;
    }
    f->held = false;
    int64_t tp = atomic_load(&a->target_pid);
    if (tp > 0 && tp == f->pid) {
        mpp_aproc_exit_kind(atomic_load(&a->target_ws), kind, code);
    }
    return true;
}

/*  Before the first message of file `f`: the aggregator knows a process
 *  by its pid, so every older file of that pid must have said all it
 *  will say first.  An older file whose process still lives was left by
 *  the image an exec replaced: it ends when `f` was made.  One whose
 *  process died (and whose pid `f`'s process took) ends now with what is
 *  known of it, since the status the launcher may give at the end is
 *  only ever the target's, whose pid is not free before that. */
static void
s_end_older(mpp_agent_t *a, const mpp_afile_t *f, int64_t now)
{
    for (size_t i = 0; i < a->nfiles; i++) {
        mpp_afile_t *o = a->files[i];
        if (o == f || o->finished || o->released ||
            o->name_pid != f->name_pid || o->name_mono >= f->name_mono) {
            continue;
        }
        if (!o->dead && (o->pidfd >= 0 ? mpp_aproc_exited(o->pidfd)
                                       : mpp_aproc_gone(o->pid, o->kstart))) {
            mpp_afile_died(a, o, now);
        }
        if (!o->dead) {
            o->dead = true;
            o->exec_ended = true;
            o->death_ns = f->name_mono < o->name_mono ? o->name_mono
                          : f->name_mono < now        ? f->name_mono
                                                      : now;
        }
        o->forced = true;
        mpp_afile_read(a, o, now);
        o->finished = true;
    }
}

/*  The part of a read after the copy: `b` holds `len` bytes of `f`'s
 *  file (open as `fd`, which the caller closes), or the copy failed with
 *  `rc`. */
static void
s_use(mpp_agent_t *a, mpp_afile_t *f, int fd, const unsigned char *b,
      size_t len, int rc, int64_t now)
{
    mpp_shm_root_t root;
    bool unborn = false;
    bool have_root =
        (rc == 0 || rc == MPP_ETRUNC) && s_root(f, b, len, &root, &unborn);
    f->unborn = unborn;
    if (have_root && !f->checked) {
        s_check(f, &root, now);
    }
    if (!have_root) {
        /* Not readable (yet): a live file is tried again; a dead one is
         * all there will ever be. */
        f->finished = f->dead;
        return;
    }
    if (!f->parsed) {
        s_end_older(a, f, now);
    }
    mpp_shmread_out_reset(&a->out);
    s_hand_cpu(f);
    uint32_t kind;
    int32_t code;
    bool recorded = root.exit_kind != MPP_EXIT_RUNNING;
    if (f->dead) {
        if (!s_exit(a, f, recorded, &kind, &code)) {
            return;
        }
        rc = mpp_shmread_final(f->reader, b, len, f->death_ns, kind, code,
                               &a->out);
        if (rc == 0 && !recorded && kind == MPP_EXIT_LOST) {
            atomic_fetch_add(&a->n.lost, 1);
        }
    }
    else {
        rc = mpp_shmread_read(f->reader, b, len, &a->out);
    }
    s_count_corrupt(a, f);
    if (rc == 0) {
        if (!f->parsed) {
            f->parsed = true;
            atomic_fetch_add(&a->n.files, 1);
        }
        if (mpp_agent_send(a, &a->out)) {
            s_ack(f, fd);
        }
    }
    /* A dead process gets one final read, whatever it gave. */
    if (mpp_shmread_done(f->reader) || f->dead) {
        f->finished = true;
    }
}

void
mpp_afile_read(mpp_agent_t *a, mpp_afile_t *f, int64_t now)
{
    if (f->finished || f->released || (f->held && !a->ended)) {
        return;
    }
    if (!f->dead && f->pidfd < 0 && mpp_aproc_gone(f->pid, f->kstart)) {
        mpp_afile_died(a, f, now); /* reads it, finally */
        return;
    }
    int fd = s_open(a, f);
    if (fd < 0) {
        /* Gone (or never a file we can read, such as a link planted in
         * the directory): nothing more will come. */
        if (fd == -ENOENT || fd == -ELOOP || f->dead || fd == MPP_EFORMAT) {
            f->finished = true;
        }
        return;
    }
    if (s_oversized(fd)) {
        f->finished = true;
        close(fd);
        return;
    }
    if (!f->dead) {
        s_cpu(f);
    }
    /* Every read copies into the agent's one buffer, but a read can set
     * off another (s_end_older: an exec'd image's first read ends the
     * older image's file) while its own bytes are still in use: that
     * one copies into a buffer of its own. */
    bool nested = a->rbuf_busy;
    unsigned char *own = NULL;
    size_t owncap = 0;
    unsigned char **buf = nested ? &own : &a->rbuf;
    size_t *cap = nested ? &owncap : &a->rcap;
    size_t len = 0;
    a->rbuf_busy = true;
    int rc = mpp_shmread_load_into(fd, !f->dead, buf, cap, &len);
    s_use(a, f, fd, *buf, len, rc, now);
    a->rbuf_busy = nested;
    free(own);
    close(fd);
}

void
mpp_afile_died(mpp_agent_t *a, mpp_afile_t *f, int64_t now)
{
    if (f->dead || f->finished) {
        return;
    }
    f->dead = true;
    f->death_ns = now;
    /* Its CPU clock still answers while it is a zombie, and the pid is
     * still its own while /proc shows that zombie. */
    int64_t ns;
    bool have_cpu = mpp_aproc_cpu_ns(f->pid, &ns) == 0;
    mpp_aproc_stat_t st;
    if (mpp_aproc_stat(f->pid, &st) != 0) {
        st.state = 0;
    }
    if (have_cpu && st.state == 'Z' && f->kstart != 0 &&
        mpp_aproc_same_start(st.start_mono_ns, f->kstart)) {
        f->cpu_ns = ns;
    }
    f->status_known =
        mpp_aproc_exit_status(f->pidfd, f->pid, f->kstart, &st, &f->ws);
    mpp_afile_read(a, f, now);
}

void
mpp_afile_settle_held(mpp_agent_t *a, int64_t now)
{
    for (size_t i = 0; i < a->nfiles; i++) {
        mpp_afile_t *f = a->files[i];
        if (f->held && !f->finished) {
            mpp_afile_read(a, f, now);
        }
    }
}

void
mpp_afile_release(mpp_agent_t *a, mpp_afile_t *f)
{
    if (f == NULL || f->released) {
        return;
    }
    f->released = true;
    if (!f->parsed && !f->unborn) {
        atomic_fetch_add(&a->n.unreadable, 1);
    }
    s_close_pidfd(f);
    mpp_shmread_destroy(&f->reader);
}

void
mpp_afile_destroy(mpp_agent_t *a, mpp_afile_t **f_p)
{
    mpp_afile_t *f = *f_p;
    if (f == NULL) {
        return;
    }
    mpp_afile_release(a, f);
    free(f->name);
    free(f);
    *f_p = NULL;
}
