/*  The aggregator's TCP side, private state shared by mpp_netagg.c (the
 *  socket, messages, runs) and mpp_netagg_hosts.c (each host's summary
 *  and clock alignment). */
#ifndef MPP_NETAGG_PRIV_H
#define MPP_NETAGG_PRIV_H

#include "mpp_net.h"

typedef struct {
    char run[MPP_NET_RUN_LEN + 1];
    char *host;
    bool ranked;
    int64_t rank;
    bool joined, ended;
} mpp_netrun_t;

/*  Per host: how its clock compares with ours.  Its runs measure it by
 *  round trips (mpp_runjoin.c, mpp_clockprobe.c): offset = our time at
 *  the ack - the middle of their round trip, within half the round trip.
 *  Each reading comes back as a CLOCK and goes into `fit`, which gives
 *  the offset of each moment.  A client that sends no CLOCK (an older
 *  one) leaves its best reading in its envelopes: then that one offset
 *  serves for all.  Without any, one-way messages only bound it: a
 *  message sent at the host's time t arrives at our t + offset + delay,
 *  delay >= 0, so the smallest difference seen is an upper bound. */
typedef struct {
    char *host;
    uint64_t messages;
    int64_t min_delta_ns;
    int64_t max_delta_ns;
    int64_t offset_ns;
    int64_t offset_err_ns; /* -1: no round trip measured */
    mpp_clockfit_t *fit;
} mpp_nethost_t;

struct mpp_netagg {
    void *ctx;
    void *sock;
    void *mon;
    mpp_session_t *session;
    char token[MPP_TOKEN_LEN + 1];
    char join[MPP_NET_MAX_ENDPOINT + 256];
    char *first_command;
    mpp_netrun_t *runs;
    size_t nruns, capruns;
    mpp_nethost_t *hosts;
    size_t nhosts, caphosts;
    mpp_netagg_counts_t n;
};

#endif
