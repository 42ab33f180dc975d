/*  Reading a profiled process's shared mapping; see mpp_shmread.h.
 *
 *  Every structure is copied out of the bytes with memcpy (a forged
 *  pointer may be misaligned) after mpp_shm_offset has placed it wholly
 *  inside the part in use, and that part is cut to the bytes actually
 *  read.  Arrays are further bounded by a budget: all arrays of one read
 *  together may claim at most the input's size, as in a real file, where
 *  no two overlap.  So forged threads that share one huge stats array
 *  cannot make the reader copy it once per thread. */
#include "mpp_shmread_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

void
mpp_shmread_out_init(mpp_shmread_out_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < MPP_SHMREAD_MAXMSG; i++) {
        mpp_buf_init(&out->frame[i]);
    }
}

void
mpp_shmread_out_reset(mpp_shmread_out_t *out)
{
    for (size_t i = 0; i < MPP_SHMREAD_MAXMSG; i++) {
        out->frame[i].len = 0;
    }
    out->n = 0;
}

void
mpp_shmread_out_fini(mpp_shmread_out_t *out)
{
    for (size_t i = 0; i < MPP_SHMREAD_MAXMSG; i++) {
        mpp_buf_fini(&out->frame[i]);
    }
    out->n = 0;
}

mpp_shmread_t *
mpp_shmread_new(const char *token)
{
    mpp_shmread_t *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        return NULL;
    }
    self->token = strdup(token != NULL ? token : "");
    if (self->token == NULL) {
        free(self);
        return NULL;
    }
    return self;
}

void
mpp_shmread_destroy(mpp_shmread_t **self_p)
{
    mpp_shmread_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    mpp_sr_threads_free(self->threads, self->nthreads);
    free(self->fstate);
    free(self->token);
    free(self);
    *self_p = NULL;
}

uint64_t
mpp_shmread_corrupt(const mpp_shmread_t *self)
{
    return self->corrupt;
}

bool
mpp_shmread_done(const mpp_shmread_t *self)
{
    return self->done;
}

int64_t
mpp_shmread_pid(const mpp_shmread_t *self)
{
    return self->pid;
}

void
mpp_shmread_set_cpu_ns(mpp_shmread_t *self, int64_t cpu_ns)
{
    if (cpu_ns > self->cpu_ns) {
        self->cpu_ns = cpu_ns;
    }
}

int
mpp_shmread_ack(mpp_shmread_t *self, int fd)
{
    if (!self->ack_any || self->ack_due == self->ack_written) {
        return 0;
    }
    /* Both words in one write, so the writer sees them agree only once
     * the write is whole (mpp_shm.h). */
    uint64_t words[2] = {self->ack_due, ~self->ack_due};
    ssize_t n;
    do {
        n = pwrite(fd, words, sizeof(words), (off_t)MPP_SHM_ACK_OFFSET);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    if ((size_t)n != sizeof(words)) {
        return -EIO;
    }
    self->ack_written = self->ack_due;
    return 0;
}

/* ---- loading a file ---------------------------------------------------- */

static int
s_pread_all(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t k =
            pread(fd, (char *)buf + *got, n - *got, (off_t)(off + *got));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return -errno;
        }
        if (k == 0) {
            break; /* end of file: the caller decides */
        }
        *got += (size_t)k;
    }
    return 0;
}

/* The root's gen as the file holds it now; UINT64_MAX if unreadable. */
static uint64_t
s_file_gen(int fd, const mpp_shm_hdr_t *hdr)
{
    uint64_t off;
    uint32_t gen;
    size_t got;
    if (hdr->root == 0 ||
        mpp_shm_offset(hdr, hdr->root, sizeof(gen), &off) < 0 ||
        s_pread_all(fd, &gen, sizeof(gen), off, &got) < 0 ||
        got != sizeof(gen)) {
        return UINT64_MAX;
    }
    return gen;
}

int
mpp_shmread_load_into(int fd, bool live, unsigned char **buf, size_t *cap,
                      size_t *len)
{
    *len = 0;
    mpp_shm_hdr_t hdr;
    size_t got;
    int rc = s_pread_all(fd, &hdr, sizeof(hdr), 0, &got);
    if (rc < 0) {
        return rc;
    }
    if (got < sizeof(hdr)) {
        return MPP_EFORMAT;
    }
    /* The header against its own reserve: is it one of ours at all.  The
     * file's real size only limits what is copied. */
    rc = mpp_shm_check_hdr(&hdr, hdr.reserve);
    if (rc < 0) {
        return rc;
    }
    /* The gen before the size the copy takes (the header's and the
     * file's): whatever the root named at that gen was allocated before,
     * so it lies inside the copy (a thread's table, or the table of one
     * that ended). */
    uint64_t gen1 = live ? s_file_gen(fd, &hdr) : 0;
    if (live && (gen1 == UINT64_MAX || gen1 % 2 != 0)) {
        return -EAGAIN;
    }
    if (live && (s_pread_all(fd, &hdr, sizeof(hdr), 0, &got) < 0 ||
                 got < sizeof(hdr) ||
                 mpp_shm_check_hdr(&hdr, hdr.reserve) < 0)) {
        return -EAGAIN;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    uint64_t want = hdr.used;
    if ((uint64_t)st.st_size < want) {
        want = (uint64_t)st.st_size;
    }
    if (want > SIZE_MAX / 2) {
        return MPP_ETOOBIG;
    }
    if (*buf == NULL || *cap < want) {
        size_t n = want > 0 ? (size_t)want : 1;
        unsigned char *grown = realloc(*buf, n);
        if (grown == NULL) {
            return MPP_ENOMEM;
        }
        *buf = grown;
        *cap = n;
    }
    rc = s_pread_all(fd, *buf, (size_t)want, 0, &got);
    if (rc < 0) {
        return rc;
    }
    /* The root record changed during the copy: try again later. */
    if (live && s_file_gen(fd, &hdr) != gen1) {
        return -EAGAIN;
    }
    *len = got;
    return got < hdr.used ? MPP_ETRUNC : 0;
}

int
mpp_shmread_load_fd(int fd, bool live, unsigned char **bytes, size_t *len)
{
    size_t cap = 0;
    *bytes = NULL;
    int rc = mpp_shmread_load_into(fd, live, bytes, &cap, len);
    if (rc != 0 && rc != MPP_ETRUNC) {
        free(*bytes);
        *bytes = NULL;
        *len = 0;
    }
    return rc;
}

int
mpp_shmread_load(const char *path, bool live, unsigned char **bytes,
                 size_t *len)
{
    *bytes = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -errno;
    }
    int rc = mpp_shmread_load_fd(fd, live, bytes, len);
    close(fd);
    return rc;
}

/* ---- messages ---------------------------------------------------------- */

static int
s_emit(mpp_shmread_t *r, mpp_msg_t *m, mpp_shmread_out_t *out)
{
    if (out->n >= MPP_SHMREAD_MAXMSG) {
        return MPP_EINVAL; /* the caller did not reset `out` */
    }
    m->version = MPP_WIRE_VERSION;
    m->token = r->token;
    m->pid = r->pid;
    m->seq = r->seq;
    mpp_buf_t *b = &out->frame[out->n];
    b->len = 0;
    int rc = mpp_wire_encode(m, b);
    if (rc < 0) {
        return rc;
    }
    out->type[out->n++] = m->type;
    r->seq++;
    return 0;
}

static int
s_hello(s_ctx_t *c, mpp_shmread_out_t *out)
{
    const mpp_shm_root_t *root = &c->root;
    uint32_t argc = root->argc;
    if (argc > 0 &&
        !s_claim(c, (uint64_t)(uintptr_t)root->argv, argc, sizeof(uint64_t))) {
        s_bad(c);
        argc = 0;
    }
    const char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    if (argv == NULL) {
        return MPP_ENOMEM;
    }
    for (uint32_t i = 0; i < argc; i++) {
        uint64_t p = 0;
        s_get(c, (uint64_t)(uintptr_t)root->argv + (uint64_t)i * 8, 8, &p);
        argv[i] = s_str(c, (const void *)(uintptr_t)p);
        if (argv[i] == NULL) {
            s_bad(c);
            argv[i] = "?";
        }
    }
    mpp_msg_t m = {.type = MPP_MSG_HELLO,
                   .ppid = root->ppid,
                   .start_method = root->start_method,
                   .python = root->python,
                   .argv = argv,
                   .argc = argc,
                   .start_ns = root->start_ns,
                   .name = root->name};
    int rc = s_emit(c->r, &m, out);
    free(argv);
    if (rc == 0) {
        c->r->hello_sent = true;
        snprintf(c->r->name, sizeof(c->r->name), "%s", root->name);
    }
    return rc;
}

/*  Runs one read.  `final`: the process is gone; close its frames at
 *  `now_mono` and end with a BYE of `kind`/`code` unless it recorded
 *  its own end. */
static int
s_run(mpp_shmread_t *r, const void *bytes, size_t len, bool final,
      int64_t now_mono, uint32_t kind, int32_t code, mpp_shmread_out_t *out)
{
    if (r->done) {
        return 0;
    }
    s_ctx_t c = {.r = r, .b = bytes, .len = len, .budget = len};
    if (bytes == NULL || len < sizeof(c.hdr)) {
        return MPP_EFORMAT;
    }
    memcpy(&c.hdr, bytes, sizeof(c.hdr));
    int rc = mpp_shm_check_hdr(&c.hdr, c.hdr.reserve);
    if (rc < 0) {
        return rc;
    }
    if (c.hdr.used > len) {
        c.hdr.used = len; /* a truncated copy: what is there stands */
    }
    if (c.hdr.root == 0 || !s_get(&c, c.hdr.root, sizeof(c.root), &c.root)) {
        s_bad(&c);
        return MPP_ECORRUPT;
    }
    mpp_shm_root_t *root = &c.root;
    if (root->gen % 2 != 0 && !final) {
        return -EAGAIN;
    }
    if (r->pid != 0 && root->pid != r->pid) {
        s_bad(&c); /* not the incarnation this reader follows */
        return MPP_ECORRUPT;
    }
    r->pid = root->pid;
    root->start_method[sizeof(root->start_method) - 1] = '\0';
    root->python[sizeof(root->python) - 1] = '\0';
    root->name[sizeof(root->name) - 1] = '\0';
    mpp_clock_t *k = &root->clock;
    /* A forged enum may hold any value: look at its bytes first. */
    unsigned kind_raw = 0;
    memcpy(&kind_raw, &k->kind,
           sizeof(k->kind) < sizeof(kind_raw) ? sizeof(k->kind)
                                              : sizeof(kind_raw));
    if (kind_raw > MPP_CLOCK_TEST ||
        (kind_raw == MPP_CLOCK_TSC &&
         !(k->ns_per_tick > 1e-3 && k->ns_per_tick < 1e3))) {
        s_bad(&c);
        k->kind = MPP_CLOCK_MONO; /* counts stay exact; times are off */
        k->ns_per_tick = 1;
    }
    c.final = final;
    c.now = mpp_sr_ticks_at(&c, final, now_mono);
    c.real_now = mpp_clock_real_ns();
    if (final && k->kind != MPP_CLOCK_TEST) {
        c.real_now = s_sub(c.real_now, s_sub(mpp_clock_mono_ns(), now_mono));
    }
    if (root->exit_kind > MPP_EXIT_LOST) {
        s_bad(&c);
        root->exit_kind = MPP_EXIT_LOST;
    }
    if (root->exit_kind != MPP_EXIT_RUNNING) {
        kind = root->exit_kind;
        code = root->exit_code;
    }
    bool bye = final || root->exit_kind != MPP_EXIT_RUNNING;
    c.settled = bye;

    if (!r->hello_sent && (rc = s_hello(&c, out)) < 0) {
        return rc;
    }
    mpp_sr_registry(&c);
    c.capwf = c.nfuncs;
    /* Neither this nor the spans' array is zeroed: s_take_def and s_span
     * write every field of an entry before it counts, and a fork child's
     * registry (its parent's, thousands of functions) made the zeroing
     * the largest part of a read (issue 12). */
    c.wf = malloc((c.capwf + 1) * sizeof(*c.wf));
    c.capws = MPP_SPANS_CAP;
    /* The span threshold first: closing frames may make spans. */
    struct mpp_spans sh;
    uint64_t sp = (uint64_t)(uintptr_t)root->spans;
    if (sp != 0 && s_get(&c, sp, offsetof(struct mpp_spans, span), &sh)) {
        c.span_min = sh.min;
    }
    rc = c.wf == NULL ? MPP_ENOMEM : mpp_sr_threads(&c);
    if (rc == 0 && c.ws == NULL) {
        c.ws = malloc((c.capws + 1) * sizeof(*c.ws));
        rc = c.ws == NULL ? MPP_ENOMEM : 0;
    }
    if (rc == 0) {
        mpp_sr_spans(&c, sp);
    }
    bool renamed = strcmp(r->name, root->name) != 0;
    /* Events the process lost, and spans it overwrote before this reader
     * got them (saturating: the root's count is the writer's word). */
    uint64_t lost = s_sat_add(r->spans_lost, c.spans_lost);
    uint64_t dropped = s_sat_add(root->dropped, lost);
    /* The better of the process's own figure (at its last cold point or
     * its end) and the agent's. */
    int64_t cpu = root->cpu_ns > r->cpu_ns ? root->cpu_ns : r->cpu_ns;
    if (rc == 0 && (c.nwt > 0 || c.nwf > 0 || c.nws > 0 || renamed || bye ||
                    c.spans_lost > 0)) {
        int64_t end = root->exit_kind != MPP_EXIT_RUNNING ? root->end_mono_ns
                      : final                             ? now_mono
                              : mpp_clock_mono_ns();
        mpp_msg_t m = {.type = MPP_MSG_DATA,
                       .name = root->name,
                       .wall_ns = s_sub(end, root->start_mono_ns),
                       .cpu_ns = cpu,
                       .dropped = dropped,
                       .mem_bytes = c.hdr.used,
                       .funcs = c.wf,
                       .nfuncs = c.nwf,
                       .threads = c.wt,
                       .nthreads = c.nwt,
                       .spans = c.ws,
                       .nspans = c.nws};
        rc = s_emit(r, &m, out);
        mpp_sr_settle_defs(&c, rc == 0);
        if (rc == 0 && bye) {
            m = (mpp_msg_t){.type = MPP_MSG_BYE,
                            .exit_kind = kind,
                            .exit_code = code,
                            .wall_ns = m.wall_ns,
                            .cpu_ns = cpu,
                            .dropped = dropped};
            rc = s_emit(r, &m, out);
            r->done = rc == 0;
        }
    }
    else {
        mpp_sr_settle_defs(&c, false);
    }
    if (rc == 0) {
        /* What went out becomes the base of the next read's changes. */
        mpp_sr_threads_free(r->threads, r->nthreads);
        r->threads = c.next;
        r->nthreads = c.nnext;
        c.next = NULL;
        c.nnext = 0;
        r->spans_seen = c.spans_total;
        r->spans_lost = lost;
        snprintf(r->name, sizeof(r->name), "%s", root->name);
        /* Every thread this snapshot counts as ended went out with its
         * final numbers (or had no change left to send), unless some were
         * left for a later read. */
        if (!final && c.held == 0) {
            r->ack_due = root->ended;
            r->ack_any = true;
        }
    }
    mpp_sr_threads_free(c.next, c.nnext);
    for (size_t i = 0; i < c.nwt; i++) {
        free(c.wt[i].stats);
        free(c.wt[i].edges);
    }
    free(c.wt);
    free(c.wf);
    free(c.ws);
    return rc;
}

int
mpp_shmread_read(mpp_shmread_t *self, const void *bytes, size_t len,
                 mpp_shmread_out_t *out)
{
    return s_run(self, bytes, len, false, 0, 0, 0, out);
}

int
mpp_shmread_final(mpp_shmread_t *self, const void *bytes, size_t len,
                  int64_t now_mono_ns, uint32_t exit_kind, int32_t exit_code,
                  mpp_shmread_out_t *out)
{
    if (exit_kind == MPP_EXIT_RUNNING || exit_kind > MPP_EXIT_LOST) {
        exit_kind = MPP_EXIT_LOST;
    }
    return s_run(self, bytes, len, true, now_mono_ns, exit_kind, exit_code,
                 out);
}
