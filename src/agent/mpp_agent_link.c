/*  An agent's link to an aggregator on another host (see mpp_agent.h,
 *  mpp_agent_new_link): the socket's set-up, and the frames the launcher
 *  exchanges with the aggregator itself while the thread does not run.
 */
#include "mpp_agent_priv.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

/* A smaller queue than on one host, and a send that waits only a moment,
 * since the aggregator may be unreachable for long. */
#define S_LINK_SNDHWM 2000
#define S_LINK_SNDTIMEO_MS 100

static int
s_set_int(void *sock, int option, int value)
{
    return zmq_setsockopt(sock, option, &value, sizeof(value));
}

/*  CURVE as a client of the server whose public key the join string
 *  pinned; this side's keys are made afresh, as the server accepts any
 *  client that knows its key (the token then says who belongs). */
static int
s_set_curve(void *sock, const uint8_t *server_key)
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

static int
s_set_prefix(mpp_agent_t *self, const void *data, size_t len)
{
    void *copy = NULL;
    if (len > 0) {
        if ((copy = malloc(len)) == NULL) {
            return MPP_ENOMEM;
        }
        memcpy(copy, data, len);
    }
    free(self->prefix);
    self->prefix = copy;
    self->prefix_len = len;
    return 0;
}

int
mpp_agent_set_prefix(mpp_agent_t *self, const void *data, size_t len)
{
    if (!self->remote || self->started) {
        return MPP_EINVAL;
    }
    return s_set_prefix(self, data, len);
}

int
mpp_agent_link(mpp_agent_t *self, const mpp_agent_link_t *link)
{
    int rc;
    self->remote = true;
    if ((rc = s_set_prefix(self, link->prefix, link->prefix_len)) != 0) {
        return rc;
    }
    if (link->server_key != NULL &&
        (rc = s_set_curve(self->sock, link->server_key)) != 0) {
        return rc;
    }
    if (s_set_int(self->sock, ZMQ_LINGER, link->linger_ms) != 0 ||
        s_set_int(self->sock, ZMQ_SNDHWM, S_LINK_SNDHWM) != 0 ||
        s_set_int(self->sock, ZMQ_SNDTIMEO, S_LINK_SNDTIMEO_MS) != 0) {
        return -zmq_errno();
    }
    return 0;
}

/* The socket is the launcher's only while the thread does not run. */
static bool
s_mine(const mpp_agent_t *self)
{
    return self->remote && self->sock != NULL &&
           (!self->started || self->joined);
}

int
mpp_agent_send_control(mpp_agent_t *self, const void *data, size_t len)
{
    if (!s_mine(self)) {
        return MPP_EINVAL;
    }
    int rc;
    do {
        rc = zmq_send(self->sock, data, len, 0);
    } while (rc < 0 && zmq_errno() == EINTR);
    return rc < 0 ? -zmq_errno() : 0;
}

int
mpp_agent_recv_control(mpp_agent_t *self, void *buf, size_t cap,
                       int timeout_ms)
{
    if (!s_mine(self)) {
        return MPP_EINVAL;
    }
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0) {
        return -zmq_errno();
    }
    if (n == 0) {
        return -ETIMEDOUT;
    }
    int got = zmq_recv(self->sock, buf, cap, ZMQ_DONTWAIT);
    if (got < 0) {
        return -zmq_errno();
    }
    return got > (int)cap ? (int)cap : got;
}
