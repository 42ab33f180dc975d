/*  The collector's ZeroMQ PUSH socket; see mpp_sender.h. */
#include "mpp_sender.h"

#include <errno.h>
#include <zmq.h>

#include "mpp_clock.h"

struct mpp_sender {
    void *ctx;
    void *sock;
    int linger_ms;
};

mpp_sender_t *
mpp_sender_new(const char *endpoint, int linger_ms, int hwm, const char **err)
{
    mpp_sender_t *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        if (err != NULL) {
            *err = "out of memory";
        }
        return NULL;
    }
    self->linger_ms = linger_ms;
    self->ctx = zmq_ctx_new();
    if (self->ctx == NULL) {
        goto fail;
    }
    /* One I/O thread is plenty for a trickle of batches, and keeping the
     * socket count small bounds what every profiled process costs. */
    zmq_ctx_set(self->ctx, ZMQ_IO_THREADS, 1);
    zmq_ctx_set(self->ctx, ZMQ_MAX_SOCKETS, 8);
    self->sock = zmq_socket(self->ctx, ZMQ_PUSH);
    if (self->sock == NULL) {
        goto fail;
    }
    if (zmq_setsockopt(self->sock, ZMQ_LINGER, &linger_ms,
                       sizeof(linger_ms)) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_connect(self->sock, endpoint) != 0) {
        goto fail;
    }
    return self;

fail:
    if (err != NULL) {
        *err = zmq_strerror(zmq_errno());
    }
    if (self->sock != NULL) {
        int zero = 0;
        zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(self->sock);
    }
    if (self->ctx != NULL) {
        zmq_ctx_term(self->ctx);
    }
    free(self);
    return NULL;
}

int
mpp_sender_send(mpp_sender_t *self, const void *data, size_t len)
{
    if (zmq_send(self->sock, data, len, ZMQ_DONTWAIT) < 0) {
        return -zmq_errno();
    }
    return 0;
}

bool
mpp_sender_destroy(mpp_sender_t **self_p)
{
    mpp_sender_t *self = *self_p;
    if (self == NULL) {
        return false;
    }
    int64_t start = mpp_clock_mono_ns();
    zmq_close(self->sock);
    /* zmq_ctx_term is where the linger wait happens; a signal can cut it
     * short with EINTR, so retry until it is really done. */
    while (zmq_ctx_term(self->ctx) != 0 && zmq_errno() == EINTR) {
    }
    /* ZeroMQ's timers may fire a little early, so a wait of nine tenths
     * of the linger counts as running out. */
    int64_t waited_ms = (mpp_clock_mono_ns() - start) / 1000000;
    bool expired =
        self->linger_ms > 0 && waited_ms * 10 >= (int64_t)self->linger_ms * 9;
    free(self);
    *self_p = NULL;
    return expired;
}

void
mpp_sender_abandon(mpp_sender_t **self_p)
{
    /* The struct itself is plain memory of ours and could be freed, but
     * keeping it leaks nothing that matters and keeps this path free of
     * any allocator call. */
    *self_p = NULL;
}
