/*  The aggregator's TCP side (see mpp_net.h): one ZeroMQ ROUTER socket,
 *  CURVE server unless --insecure, for the agents of joined runs (their
 *  DEALER sockets).  A ROUTER rather than a PULL only so that a run's
 *  JOIN and END can be answered (the ack, for its clock and its end);
 *  everything else flows one way, as from a PUSH.
 *
 *  Every message is either an envelope alone (a run joined or ended) or
 *  an envelope and a wire message (two parts), after the routing id that
 *  ROUTER puts first.  Both the envelope's and
 *  the message's token are checked; anything else is rejected and
 *  counted, as garbage is on the local socket.
 *
 *  A flooding client does not starve the others: ZeroMQ gives each
 *  connection its own queue, bounded by the receive high-water mark
 *  (S_CLIENT_HWM messages; a full queue holds its sender back over TCP),
 *  and the PULL socket takes from the connections in turn.  Handshakes
 *  that fail (a wrong server key, a client without CURVE) never deliver
 *  a message; the socket monitor reports them, and they are counted.
 */
#include "mpp_netagg_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <zmq.h>

#include "mpp_clock.h"

#define S_CLIENT_HWM 500  /* messages queued per connection */
#define S_BATCH 256       /* messages per step, so the caller stays live */
#define S_HEARTBEAT_MS 1000
#define S_HEARTBEAT_TIMEOUT_MS 10000
#define S_MAX_RUNS 100000 /* beyond, runs are merged but not tracked */

static int
s_set_int(void *sock, int option, int value)
{
    return zmq_setsockopt(sock, option, &value, sizeof(value));
}

/* Makes the server's keys; the public one goes into the join string. */
static int
s_curve(mpp_netagg_t *self, mpp_join_t *j)
{
    char pub[41], sec[41];
    if (!zmq_has("curve")) {
        return MPP_EINVAL;
    }
    if (zmq_curve_keypair(pub, sec) != 0 ||
        zmq_z85_decode(j->key, pub) == NULL ||
        s_set_int(self->sock, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_CURVE_SECRETKEY, sec, 40) != 0) {
        return -zmq_errno();
    }
    j->secure = true;
    return 0;
}

/* Watches the socket's failed handshakes on an inproc PAIR. */
static int
s_monitor(mpp_netagg_t *self)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "inproc://mpprof-netagg-%p", (void *)self);
    if (zmq_socket_monitor(self->sock, addr,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        (self->mon = zmq_socket(self->ctx, ZMQ_PAIR)) == NULL ||
        s_set_int(self->mon, ZMQ_LINGER, 0) != 0 ||
        zmq_connect(self->mon, addr) != 0) {
        return -zmq_errno();
    }
    return 0;
}

mpp_netagg_t *
mpp_netagg_new(const mpp_netagg_opts_t *o, mpp_session_t *session,
               int *err)
{
    mpp_netagg_t *self = calloc(1, sizeof(*self));
    int64_t maxmsg = (int64_t)MPP_WIRE_MAX_MSG + 1;
    mpp_join_t j = {0};
    size_t len = sizeof(j.endpoint);

    *err = MPP_ENOMEM;
    if (self == NULL) {
        return NULL;
    }
    self->session = session;
    if ((*err = mpp_random_hex(self->token, MPP_TOKEN_LEN / 2)) != 0) {
        goto fail;
    }
    memcpy(j.token, self->token, sizeof(j.token));
    if ((self->ctx = zmq_ctx_new()) == NULL ||
        (self->sock = zmq_socket(self->ctx, ZMQ_ROUTER)) == NULL) {
        *err = -zmq_errno();
        goto fail;
    }
    zmq_ctx_set(self->ctx, ZMQ_BLOCKY, 0);
    if (!o->insecure && (*err = s_curve(self, &j)) != 0) {
        goto fail;
    }
    if (s_set_int(self->sock, ZMQ_LINGER, 0) != 0 ||
        s_set_int(self->sock, ZMQ_RCVHWM, S_CLIENT_HWM) != 0 ||
        s_set_int(self->sock, ZMQ_HEARTBEAT_IVL, S_HEARTBEAT_MS) != 0 ||
        s_set_int(self->sock, ZMQ_HEARTBEAT_TIMEOUT,
                  S_HEARTBEAT_TIMEOUT_MS) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxmsg,
                       sizeof(maxmsg)) != 0 ||
        zmq_bind(self->sock, o->bind) != 0 ||
        zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, j.endpoint, &len) != 0) {
        *err = -zmq_errno();
        goto fail;
    }
    if ((*err = s_monitor(self)) != 0) {
        goto fail;
    }
    if (mpp_join_format(&j, self->join, sizeof(self->join)) < 0) {
        *err = MPP_EINVAL;
        goto fail;
    }
    *err = 0;
    return self;
fail:
    mpp_netagg_destroy(&self);
    return NULL;
}

const char *
mpp_netagg_join_string(const mpp_netagg_t *self)
{
    return self->join;
}

/* ---- messages ---------------------------------------------------------- */

static bool
s_token_equal(const char *got, const char *want)
{
    if (strlen(got) != MPP_TOKEN_LEN) {
        return false;
    }
    unsigned diff = 0;
    for (size_t i = 0; i < MPP_TOKEN_LEN; i++) {
        diff |= (unsigned)((unsigned char)got[i] ^ (unsigned char)want[i]);
    }
    return diff == 0;
}

static mpp_nethost_t *
s_host(mpp_netagg_t *self, const char *name)
{
    for (size_t i = 0; i < self->nhosts; i++) {
        if (strcmp(self->hosts[i].host, name) == 0) {
            return &self->hosts[i];
        }
    }
    if (self->nhosts >= S_MAX_RUNS ||
        mpp_grow((void **)&self->hosts, &self->caphosts, self->nhosts + 1,
                 sizeof(*self->hosts)) != 0) {
        return NULL;
    }
    mpp_nethost_t *h = &self->hosts[self->nhosts];
    memset(h, 0, sizeof(*h));
    h->offset_err_ns = -1;
    if ((h->host = strdup(name)) == NULL ||
        (h->fit = mpp_clockfit_new()) == NULL) {
        free(h->host);
        return NULL;
    }
    self->nhosts++;
    return h;
}

static void
s_clock_sample(mpp_netagg_t *self, const mpp_envelope_t *e)
{
    mpp_nethost_t *h = s_host(self, e->host);
    if (h == NULL) {
        return;
    }
    int64_t delta = mpp_clock_real_ns() - e->sent_ns;
    if (h->messages == 0 || delta < h->min_delta_ns) {
        h->min_delta_ns = delta;
    }
    if (h->messages == 0 || delta > h->max_delta_ns) {
        h->max_delta_ns = delta;
    }
    h->messages++;
    if (e->kind == MPP_ENV_CLOCK) {
        if (e->offset_err_ns >= 0) {
            (void)mpp_clockfit_add(h->fit, e->sent_ns, e->offset_ns,
                                   e->offset_err_ns);
        }
        return;
    }
    if (e->offset_err_ns >= 0 &&
        (h->offset_err_ns < 0 || e->offset_err_ns < h->offset_err_ns)) {
        h->offset_ns = e->offset_ns;
        h->offset_err_ns = e->offset_err_ns;
    }
}

static mpp_netrun_t *
s_run(mpp_netagg_t *self, const mpp_envelope_t *e)
{
    for (size_t i = 0; i < self->nruns; i++) {
        if (strcmp(self->runs[i].run, e->run) == 0 &&
            strcmp(self->runs[i].host, e->host) == 0) {
            return &self->runs[i];
        }
    }
    if (self->nruns >= S_MAX_RUNS ||
        mpp_grow((void **)&self->runs, &self->capruns, self->nruns + 1,
                 sizeof(*self->runs)) != 0) {
        return NULL;
    }
    mpp_netrun_t *r = &self->runs[self->nruns];
    memset(r, 0, sizeof(*r));
    if ((r->host = strdup(e->host)) == NULL) {
        return NULL;
    }
    memcpy(r->run, e->run, sizeof(r->run));
    r->ranked = e->ranked;
    r->rank = e->rank;
    self->nruns++;
    return r;
}

/* A run joined or ended.  A run seen twice is counted once. */
static void
s_control(mpp_netagg_t *self, const mpp_envelope_t *e)
{
    mpp_netrun_t *r = s_run(self, e);
    if (r == NULL) {
        return;
    }
    if (e->kind == MPP_ENV_JOIN && !r->joined) {
        r->joined = true;
        self->n.runs_joined++;
        if (self->first_command == NULL && e->what[0] != '\0') {
            self->first_command = strdup(e->what);
        }
    }
    if (e->kind == MPP_ENV_END && !r->ended) {
        r->ended = true;
        self->n.runs_ended++;
        if (self->n.exit_status == 0) {
            self->n.exit_status = e->status;
        }
    }
}

static void
s_reject(mpp_netagg_t *self)
{
    self->session->integrity.messages++;
    self->session->integrity.rejected++;
    self->n.rejected++;
}

/*  Answers a JOIN, an END or a CLOCK that asks for a reading to its
 *  sender alone.  Never waits: an ack that cannot go now (a peer that
 *  does not read) is dropped, and the run asks again. */
static void
s_ack(mpp_netagg_t *self, zmq_msg_t *id, const mpp_envelope_t *e)
{
    uint8_t ack[MPP_ACK_LEN];
    mpp_ack_encode(e->kind, mpp_clock_real_ns(), e->sent_ns, ack);
    if (zmq_send(self->sock, zmq_msg_data(id), zmq_msg_size(id),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0) {
        zmq_send(self->sock, ack, sizeof(ack), ZMQ_DONTWAIT);
    }
}

/* One whole message: its routing id, then parts[0 .. nparts-1]. */
static void
s_handle(mpp_netagg_t *self, zmq_msg_t *id, zmq_msg_t *parts, size_t nparts)
{
    mpp_envelope_t e;
    if (mpp_envelope_decode(zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]),
                            &e) != 0 ||
        !s_token_equal(e.token, self->token) ||
        (e.kind == MPP_ENV_DATA) != (nparts == 2) || nparts > 2) {
        s_reject(self);
        return;
    }
    s_clock_sample(self, &e);
    if (e.kind == MPP_ENV_CLOCK) {
        if (e.offset_err_ns < 0) {
            s_ack(self, id, &e);
        }
        return;
    }
    if (e.kind != MPP_ENV_DATA) {
        s_control(self, &e);
        s_ack(self, id, &e);
        return;
    }
    mpp_origin_t origin = {.host = e.host, .ranked = e.ranked,
                           .rank = e.rank,
                           .worker = e.worker[0] ? e.worker : NULL,
                           .main_dirs = {e.main_dir[0] ? e.main_dir : NULL,
                                         e.main_realdir[0] ? e.main_realdir
                                                           : NULL}};
    if (mpp_ingest_frame_from(self->session, self->token, &origin,
                              zmq_msg_data(&parts[1]),
                              zmq_msg_size(&parts[1])) != 0) {
        self->n.rejected++;
    }
}

/*  Receives one message: two parts are kept, a third and more are read
 *  and dropped (the message is then rejected).  Returns false when none
 *  was waiting. */
static bool
s_recv_one(mpp_netagg_t *self)
{
    zmq_msg_t id, parts[2], extra;
    size_t kept = 0, total = 0;
    /* The routing id ROUTER adds; a message has at least one part more. */
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return false;
    }
    bool more = zmq_msg_more(&id);
    while (more) {
        zmq_msg_t *p = total < 2 ? &parts[total] : &extra;
        zmq_msg_init(p);
        /* The rest of a multipart message is there once its first part
         * is. */
        if (zmq_msg_recv(p, self->sock, 0) < 0) {
            zmq_msg_close(p);
            break;
        }
        more = zmq_msg_more(p);
        if (total < 2) {
            kept++;
        }
        else {
            zmq_msg_close(p);
        }
        total++;
    }
    self->n.messages++;
    for (size_t i = 0; i < kept; i++) {
        self->n.bytes += zmq_msg_size(&parts[i]);
    }
    if (total == 0) {
        s_reject(self);
    }
    else {
        s_handle(self, &id, parts, total);
    }
    for (size_t i = 0; i < kept; i++) {
        zmq_msg_close(&parts[i]);
    }
    zmq_msg_close(&id);
    return true;
}

/* Reads the monitor's events: each is two frames, the event and an
 * address. */
static void
s_read_monitor(mpp_netagg_t *self)
{
    for (;;) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, self->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        if (zmq_msg_size(&ev) >= 2) {
            uint16_t id;
            memcpy(&id, zmq_msg_data(&ev), sizeof(id));
            if (id & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                      ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                      ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
                self->n.refused++;
            }
        }
        bool more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        while (more) {
            zmq_msg_t rest;
            zmq_msg_init(&rest);
            if (zmq_msg_recv(&rest, self->mon, 0) < 0) {
                more = false;
            }
            else {
                more = zmq_msg_more(&rest);
            }
            zmq_msg_close(&rest);
        }
    }
}

int
mpp_netagg_step(mpp_netagg_t *self, int timeout_ms, int fd, bool *fd_ready)
{
    zmq_pollitem_t items[3] = {
        {self->sock, 0, ZMQ_POLLIN, 0},
        {self->mon, 0, ZMQ_POLLIN, 0},
        {NULL, fd, ZMQ_POLLIN, 0},
    };
    *fd_ready = false;
    int rc = zmq_poll(items, fd >= 0 ? 3 : 2, timeout_ms);
    if (rc < 0) {
        return zmq_errno() == EINTR ? 0 : -zmq_errno();
    }
    int handled = 0;
    if (items[0].revents & ZMQ_POLLIN) {
        while (handled < S_BATCH && s_recv_one(self)) {
            handled++;
        }
    }
    if (handled > 0) {
        self->n.last_ns = mpp_clock_mono_ns();
        if (self->n.first_ns == 0) {
            self->n.first_ns = self->n.last_ns;
        }
    }
    if (items[1].revents & ZMQ_POLLIN) {
        s_read_monitor(self);
    }
    *fd_ready = fd >= 0 && (items[2].revents & ZMQ_POLLIN);
    return handled;
}

void
mpp_netagg_counts(const mpp_netagg_t *self, mpp_netagg_counts_t *out)
{
    *out = self->n;
}

const char *
mpp_netagg_first_command(const mpp_netagg_t *self)
{
    return self->first_command;
}

void
mpp_netagg_destroy(mpp_netagg_t **self_p)
{
    if (self_p == NULL || *self_p == NULL) {
        return;
    }
    mpp_netagg_t *self = *self_p;
    if (self->mon != NULL) {
        zmq_close(self->mon);
    }
    if (self->sock != NULL) {
        zmq_close(self->sock);
    }
    if (self->ctx != NULL) {
        zmq_ctx_term(self->ctx);
    }
    for (size_t i = 0; i < self->nruns; i++) {
        free(self->runs[i].host);
    }
    for (size_t i = 0; i < self->nhosts; i++) {
        free(self->hosts[i].host);
        mpp_clockfit_destroy(&self->hosts[i].fit);
    }
    free(self->runs);
    free(self->hosts);
    free(self->first_command);
    free(self);
    *self_p = NULL;
}
