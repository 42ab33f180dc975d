/*  A run's clock readings while it streams (see mpp_net.h).
 *
 *  Why a thread and a connection of their own: the agent's socket belongs
 *  to the agent's thread while the run goes on (ZeroMQ sockets are not
 *  shared between threads), and the launcher's own thread waits for the
 *  target and passes signals on, which a round trip must not hold up.
 *  One small message a few seconds costs nothing beside the data.
 */
#include "mpp_net.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "mpp_clock.h"

/* Round trips per reading: the shortest one says the most. */
#define S_TRIES 3
/* How long one round trip may take before it is given up. */
#define S_ACK_MS 500

struct mpp_clockprobe {
    void *ctx;
    void *sock; /* DEALER, connected to the aggregator */
    int stop[2]; /* main -> thread: closed (or a byte) to stop */
    mpp_envelope_t env;
    int period_ms;
    pthread_t thread;
    bool started;
    _Atomic uint64_t readings;
};

static int
s_set_int(void *sock, int option, int value)
{
    return zmq_setsockopt(sock, option, &value, sizeof(value));
}

static int
s_send_env(mpp_clockprobe_t *self)
{
    void *data = NULL;
    size_t len = 0;
    int rc = mpp_envelope_encode(&self->env, &data, &len);
    if (rc == 0 && zmq_send(self->sock, data, len, ZMQ_DONTWAIT) < 0) {
        rc = -zmq_errno();
    }
    free(data);
    return rc;
}

/*  Waits at most timeout_ms for the ack that echoes `echo`, or for the
 *  stop.  Returns 1 with the aggregator's time in *t2, 0 on a timeout, -1
 *  on the stop. */
static int
s_wait_ack(mpp_clockprobe_t *self, int64_t echo, int timeout_ms, int64_t *t2)
{
    int64_t deadline = mpp_clock_mono_ns() + timeout_ms * 1000000LL;
    for (;;) {
        int64_t left = deadline - mpp_clock_mono_ns();
        if (left <= 0) {
            return 0;
        }
        zmq_pollitem_t items[2] = {
            {self->sock, 0, ZMQ_POLLIN, 0},
            {NULL, self->stop[0], ZMQ_POLLIN, 0},
        };
        int n = zmq_poll(items, 2, (long)((left + 999999) / 1000000));
        if (n < 0 && zmq_errno() != EINTR) {
            return -1;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            return -1;
        }
        uint8_t buf[64];
        int got;
        while ((got = zmq_recv(self->sock, buf, sizeof(buf),
                               ZMQ_DONTWAIT)) >= 0) {
            int kind;
            int64_t real, e;
            /* A late ack of an earlier round trip is passed over. */
            if (got == MPP_ACK_LEN &&
                mpp_ack_decode(buf, (size_t)got, &kind, &real, &e) == 0 &&
                kind == MPP_ENV_CLOCK && e == echo) {
                *t2 = real;
                return 1;
            }
        }
    }
}

/*  One reading: the best of S_TRIES round trips, sent as a CLOCK.
 *  Returns false on the stop. */
static bool
s_reading(mpp_clockprobe_t *self)
{
    int64_t best_at = 0, best_off = 0, best_err = -1;
    for (int i = 0; i < S_TRIES; i++) {
        int64_t t2;
        self->env.kind = MPP_ENV_CLOCK;
        self->env.offset_err_ns = -1;
        self->env.sent_ns = mpp_clock_real_ns();
        int64_t m1 = mpp_clock_mono_ns();
        int64_t t1 = self->env.sent_ns;
        if (s_send_env(self) != 0) {
            continue;
        }
        int got = s_wait_ack(self, t1, S_ACK_MS, &t2);
        if (got < 0) {
            return false;
        }
        if (got == 0) {
            continue;
        }
        int64_t at, off, err;
        mpp_clock_reading(t1, t2, mpp_clock_mono_ns() - m1, &at, &off, &err);
        if (best_err < 0 || err < best_err) {
            best_at = at;
            best_off = off;
            best_err = err;
        }
    }
    if (best_err >= 0) {
        self->env.sent_ns = best_at;
        self->env.offset_ns = best_off;
        self->env.offset_err_ns = best_err;
        if (s_send_env(self) == 0) {
            atomic_fetch_add(&self->readings, 1);
        }
    }
    return true;
}

static void *
s_thread_main(void *arg)
{
    mpp_clockprobe_t *self = arg;
    for (;;) {
        zmq_pollitem_t item = {NULL, self->stop[0], ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, self->period_ms);
        if (n < 0 && zmq_errno() != EINTR) {
            break;
        }
        if (item.revents & ZMQ_POLLIN) {
            break;
        }
        if (n == 0 && !s_reading(self)) {
            break;
        }
    }
    return NULL;
}

static int
s_curve(void *sock, const uint8_t *server_key)
{
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40) != 0) {
        return -zmq_errno();
    }
    return 0;
}

mpp_clockprobe_t *
mpp_clockprobe_new(const mpp_join_t *join, const mpp_envelope_t *env,
                   int period_ms, int *err)
{
    mpp_clockprobe_t *self = calloc(1, sizeof(*self));
    *err = MPP_ENOMEM;
    if (self == NULL) {
        return NULL;
    }
    self->stop[0] = self->stop[1] = -1;
    self->env = *env;
    self->env.what[0] = '\0';
    self->period_ms = period_ms > 0 ? period_ms : 1000;
    if (pipe2(self->stop, O_CLOEXEC) != 0) {
        *err = -errno;
        goto fail;
    }
    if ((self->ctx = zmq_ctx_new()) == NULL ||
        (self->sock = zmq_socket(self->ctx, ZMQ_DEALER)) == NULL) {
        *err = -zmq_errno();
        goto fail;
    }
    zmq_ctx_set(self->ctx, ZMQ_BLOCKY, 0);
    /* Readings are worth nothing late: a small queue, nothing kept at
     * the close. */
    if (join->secure && (*err = s_curve(self->sock, join->key)) != 0) {
        goto fail;
    }
    if (s_set_int(self->sock, ZMQ_LINGER, 0) != 0 ||
        s_set_int(self->sock, ZMQ_SNDHWM, 16) != 0 ||
        zmq_connect(self->sock, join->endpoint) != 0) {
        *err = -zmq_errno();
        goto fail;
    }
    int rc = pthread_create(&self->thread, NULL, s_thread_main, self);
    if (rc != 0) {
        *err = -rc;
        goto fail;
    }
    self->started = true;
    *err = 0;
    return self;
fail:
    mpp_clockprobe_destroy(&self);
    return NULL;
}

uint64_t
mpp_clockprobe_readings(const mpp_clockprobe_t *self)
{
    return atomic_load(&self->readings);
}

void
mpp_clockprobe_destroy(mpp_clockprobe_t **self_p)
{
    if (self_p == NULL || *self_p == NULL) {
        return;
    }
    mpp_clockprobe_t *self = *self_p;
    if (self->started) {
        /* A byte, which stays readable: a closed pipe is only a hang-up,
         * which zmq_poll does not report as readable. */
        while (write(self->stop[1], "s", 1) < 0 && errno == EINTR) {
        }
        pthread_join(self->thread, NULL);
    }
    if (self->sock != NULL) {
        zmq_close(self->sock);
    }
    if (self->ctx != NULL) {
        zmq_ctx_term(self->ctx);
    }
    for (int i = 0; i < 2; i++) {
        if (self->stop[i] >= 0) {
            close(self->stop[i]);
        }
    }
    free(self);
    *self_p = NULL;
}
