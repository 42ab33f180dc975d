/*  The ZeroMQ sink; see mpp_zsink.h. */
#include "mpp_zsink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mpp_sender.h"

/* A queue this deep absorbs minutes of batches from a stalled aggregator;
 * every batch is cumulative, so older ones are only ever superseded. */
#define S_SNDHWM 10000

struct mpp_zsink {
    char *endpoint;
    int linger_ms;
    mpp_sender_t *sender;
    mpp_buf_t buf; /* the encoded message, reused */
    uint64_t encode_failures;
    char where[256];
};

static mpp_zsink_t *
mpp_zsink_new(const char *endpoint, int linger_ms)
{
    mpp_zsink_t *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        return NULL;
    }
    self->endpoint = mpp_strdup(endpoint);
    if (self->endpoint == NULL) {
        free(self);
        return NULL;
    }
    self->linger_ms = linger_ms >= 0 ? linger_ms : 0;
    mpp_buf_init(&self->buf);
    snprintf(self->where, sizeof(self->where), "at %s within %d ms",
             self->endpoint, self->linger_ms);
    return self;
}

static void
mpp_zsink_destroy(mpp_zsink_t **self_p)
{
    mpp_zsink_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    (void)mpp_sender_destroy(&self->sender);
    mpp_buf_fini(&self->buf);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

static int
s_open(void *ctx, const char **err)
{
    mpp_zsink_t *self = ctx;
    if (self->sender != NULL) {
        return 0;
    }
    self->sender =
        mpp_sender_new(self->endpoint, self->linger_ms, S_SNDHWM, err);
    return self->sender != NULL ? 0 : -ENOTCONN;
}

static int
s_send(void *ctx, const mpp_msg_t *msg)
{
    mpp_zsink_t *self = ctx;
    if (self->sender == NULL) {
        return -ENOTCONN;
    }
    self->buf.len = 0;
    int rc = mpp_wire_encode(msg, &self->buf);
    if (rc < 0) {
        self->encode_failures++;
        return rc;
    }
    return mpp_sender_send(self->sender, self->buf.data, self->buf.len);
}

static bool
s_close(void *ctx)
{
    mpp_zsink_t *self = ctx;
    return mpp_sender_destroy(&self->sender);
}

static void
s_abandon(void *ctx)
{
    mpp_zsink_t *self = ctx;
    mpp_sender_abandon(&self->sender);
}

/* The encoding buffer; ZeroMQ's queues are its own. */
static size_t
s_mem(const void *ctx)
{
    const mpp_zsink_t *self = ctx;
    return sizeof(*self) + self->buf.cap;
}

static mpp_sink_t
mpp_zsink_sink(mpp_zsink_t *self)
{
    return (mpp_sink_t){
        .ctx = self,
        .where = self->where,
        .open = s_open,
        .send = s_send,
        .close = s_close,
        .abandon = s_abandon,
        .mem = s_mem,
    };
}

static uint64_t
mpp_zsink_encode_failures(const mpp_zsink_t *self)
{
    return self->encode_failures;
}

/* The one symbol this library exports (see mpp_zsink.h). */
__attribute__((visibility("default"))) const mpp_zsink_api_t mpp_zsink_api = {
    .create = mpp_zsink_new,
    .destroy = mpp_zsink_destroy,
    .sink = mpp_zsink_sink,
    .encode_failures = mpp_zsink_encode_failures,
};
