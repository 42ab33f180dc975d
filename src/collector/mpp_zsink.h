/*  The collector's sink (mpp_core.h's mpp_sink_t) for today's transport:
 *  each message is encoded with the wire format and queued on a ZeroMQ
 *  PUSH socket to the aggregator (mpp_sender.h).  The next milestone
 *  replaces it with a shared mapping; the core does not change. */
#ifndef MPP_ZSINK_H
#define MPP_ZSINK_H

#include "mpp_core.h"

typedef struct mpp_zsink mpp_zsink_t;

/*  `endpoint` is copied; nothing is connected yet (the core opens the
 *  sink).  Returns NULL when out of memory. */
mpp_zsink_t *mpp_zsink_new(const char *endpoint, int linger_ms);

/* Only for a sink the core never started with (see mpp_core_destroy). */
void mpp_zsink_destroy(mpp_zsink_t **self_p);

/* The interface the core calls; ctx is `self`. */
mpp_sink_t mpp_zsink_sink(mpp_zsink_t *self);

/* Messages that could not be encoded so far. */
uint64_t mpp_zsink_encode_failures(const mpp_zsink_t *self);

#endif
