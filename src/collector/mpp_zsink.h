/*  The collector's sink (mpp_core.h's mpp_sink_t) for today's transport:
 *  each message is encoded with the wire format and queued on a ZeroMQ
 *  PUSH socket to the aggregator (mpp_sender.h).  The next milestone
 *  replaces it with a shared mapping; the core does not change. */
#ifndef MPP_ZSINK_H
#define MPP_ZSINK_H

#include "mpp_core.h"

typedef struct mpp_zsink mpp_zsink_t;

/*  The sink lives in a library of its own, _zsink.so beside the
 *  collector, which alone links libzmq: loading libzmq and what it pulls
 *  in (libstdc++, Kerberos, ...) cost every Python the collector starts
 *  in about 8 ms of CPU, and with the agent reading shared mappings (the
 *  default) nothing in a profiled process sends at all.  The library
 *  exports this one table, MPP_ZSINK_API by name. */
typedef struct {
    /*  `endpoint` is copied; nothing is connected yet (the core opens
     *  the sink).  Returns NULL when out of memory. */
    mpp_zsink_t *(*create)(const char *endpoint, int linger_ms);
    /* Only for a sink the core never started with (mpp_core_destroy). */
    void (*destroy)(mpp_zsink_t **self_p);
    /* The interface the core calls; ctx is `self`. */
    mpp_sink_t (*sink)(mpp_zsink_t *self);
    /* Messages that could not be encoded so far. */
    uint64_t (*encode_failures)(const mpp_zsink_t *self);
} mpp_zsink_api_t;

#define MPP_ZSINK_API "mpp_zsink_api"
#define MPP_ZSINK_FILE "_zsink.so"

/*  The table, loaded from MPP_ZSINK_FILE in the collector's own folder on
 *  first use; NULL with *why set when it cannot be (the collector's side,
 *  mpp_zsink_load.c). */
const mpp_zsink_api_t *mpp_zsink_load(const char **why);

#endif
