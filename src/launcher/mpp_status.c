/*  The live status line (see mpp_launcher.h): while `run` works, a line
 *  on stderr such as
 *
 *      mpprof: 3.2 s  processes: 2 alive, 1 finished  calls: 12,345
 *
 *  redrawn in place four times a second, only on a terminal and without
 *  -q, and cleared before anything else mpprof writes.
 *
 *  The numbers come from the aggregator (mpp_agg_live), which owns the
 *  session and publishes them under a seqlock; this thread never touches
 *  the session itself.
 *
 *  The target shares the terminal, and nothing tells mpprof when it
 *  writes there.  So the line is drawn with the cursor left at its first
 *  column ("\r" after it) and never longer than the terminal is wide:
 *  what the target writes next starts at the left edge and overwrites
 *  the line instead of being appended to it (a shorter line of the
 *  target keeps the tail of the status after it until that line scrolls
 *  away), and the next redraw happens below the target's output.  Lines
 *  are cleared with spaces rather than an escape sequence, so any
 *  terminal, even TERM=dumb, shows them right.  The line never appears
 *  anywhere but a terminal: redirected stderr stays byte for byte what
 *  it is without the line.
 */
#include "mpp_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define S_TICK_MS 250  /* four redraws a second: live, yet cheap */
#define S_LINE_MAX 512 /* wider terminals get this much */

struct mpp_status {
    int fd;
    mpp_agg_t *agg;
    int64_t t0_ns;
    pthread_t thread;
    int wake[2];      /* stop: one byte */
    size_t drawn;     /* length of the line on the terminal, 0: none */
};

bool
mpp_status_wanted(int fd, bool quiet)
{
    return !quiet && isatty(fd);
}

/* `v` with thousands separators, as people read counts. */
static void
s_grouped(char *buf, size_t cap, uint64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    size_t k = 0;
    for (int i = 0; i < n && k + 1 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0 && k + 2 < cap) {
            buf[k++] = ',';
        }
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
}

size_t
mpp_status_format(char *buf, size_t cap, size_t width, int64_t elapsed_ns,
                  const mpp_agg_live_t *l)
{
    char calls[40];
    if (cap == 0) {
        return 0;
    }
    s_grouped(calls, sizeof(calls), l->calls);
    uint64_t ended = l->ended <= l->procs ? l->ended : l->procs;
    int n = snprintf(buf, cap,
                     "mpprof: %.1f s  processes: %" PRIu64 " alive, %" PRIu64
                     " finished  calls: %s",
                     (double)(elapsed_ns > 0 ? elapsed_ns : 0) / 1e9,
                     l->procs - ended, ended, calls);
    size_t len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    if (len > width) {
        len = width;
    }
    buf[len] = '\0';
    return len;
}

/* Writes all of buf, as far as the terminal takes it: a terminal that
 * went away costs the line, nothing else. */
static void
s_write(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        buf += w;
        len -= (size_t)w;
    }
}

/*  The terminal's width less one column, so that the line never makes
 *  the cursor wrap: a wrapped line could not be rewritten by "\r". */
static size_t
s_width(int fd)
{
    struct winsize ws;
    size_t cols = 80;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        cols = ws.ws_col;
    }
    cols = cols > 1 ? cols - 1 : 1;
    return cols < S_LINE_MAX ? cols : S_LINE_MAX;
}

/*  One write per redraw: "\r", the line, spaces over what is left of the
 *  longer line before, "\r". */
static void
s_draw(mpp_status_t *self)
{
    char line[S_LINE_MAX + 1], out[2 * S_LINE_MAX + 4];
    /* In the background (`mpprof run x.py &`) the line stays away: it
     * would clutter the shell's prompt, and with `stty tostop` writing
     * would stop mpprof, which a quiet program run without it never is.
     * A terminal that is not mpprof's controlling one has no foreground
     * (ENOTTY) and no such concern. */
    pid_t fg = tcgetpgrp(self->fd);
    if (fg >= 0 && fg != getpgrp()) {
        return;
    }
    mpp_agg_live_t l;
    mpp_agg_live(self->agg, &l);
    size_t len = mpp_status_format(line, sizeof(line), s_width(self->fd),
                                   mpp_now_mono_ns() - self->t0_ns, &l);
    size_t k = 0;
    out[k++] = '\r';
    memcpy(out + k, line, len);
    k += len;
    for (size_t i = len; i < self->drawn; i++) {
        out[k++] = ' ';
    }
    out[k++] = '\r';
    s_write(self->fd, out, k);
    self->drawn = len;
}

static void *
s_thread_main(void *arg)
{
    mpp_status_t *self = arg;
    for (;;) {
        struct pollfd pfd = {self->wake[0], POLLIN, 0};
        int n = poll(&pfd, 1, S_TICK_MS);
        if (n > 0) {
            break;
        }
        if (n < 0 && errno != EINTR) {
            break;
        }
        if (n == 0) {
            s_draw(self);
        }
    }
    return NULL;
}

mpp_status_t *
mpp_status_start(int fd, mpp_agg_t *agg, int64_t t0_ns, int *err)
{
    mpp_status_t *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        *err = MPP_ENOMEM;
        return NULL;
    }
    self->fd = fd;
    self->agg = agg;
    self->t0_ns = t0_ns;
    if (pipe2(self->wake, O_CLOEXEC) != 0) {
        *err = -errno;
        free(self);
        return NULL;
    }
    int rc = pthread_create(&self->thread, NULL, s_thread_main, self);
    if (rc != 0) {
        close(self->wake[0]);
        close(self->wake[1]);
        free(self);
        *err = -rc;
        return NULL;
    }
    *err = 0;
    return self;
}

void
mpp_status_stop(mpp_status_t **self_p)
{
    if (self_p == NULL || *self_p == NULL) {
        return;
    }
    mpp_status_t *self = *self_p;
    ssize_t w;
    do {
        w = write(self->wake[1], "s", 1);
    } while (w < 0 && errno == EINTR);
    pthread_join(self->thread, NULL);
    if (self->drawn > 0) {
        /* Spaces over the line, and the cursor back at its start: the
         * report that follows prints on a clean line. */
        char out[S_LINE_MAX + 2];
        memset(out, ' ', self->drawn + 2);
        out[0] = '\r';
        out[self->drawn + 1] = '\r';
        s_write(self->fd, out, self->drawn + 2);
    }
    close(self->wake[0]);
    close(self->wake[1]);
    free(self);
    *self_p = NULL;
}
