/*  A hostile or greedy client of `mpprof collect`, for test_hosts.py:
 *  what a real agent never sends, sent on purpose.
 *
 *    net_client JOIN MODE N
 *
 *  MODE is one of
 *    wrongkey   connects with a random server key (the handshake must
 *               fail) and tries to send N envelopes
 *    wrongtoken sends N run-start envelopes with a token that is not
 *               the session's
 *    garbage    sends N single frames of junk, N envelopes followed by a
 *               junk wire message, and one message of three parts: each
 *               of the 2N + 1 must be rejected
 *    flood      sends envelope + junk as fast as the socket takes them
 *               for N seconds, and prints how many it sent
 *
 *  It links the net room only for the join string and the envelope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "mpp_clock.h"
#include "mpp_net.h"

static void *
s_connect(void *ctx, const mpp_join_t *j, bool wrong_key)
{
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 3000, hwm = 1000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    if (j->secure) {
        char pub[41], sec[41];
        uint8_t key[32];
        memcpy(key, j->key, sizeof(key));
        if (wrong_key) {
            key[0] ^= 0x5a;
            key[31] ^= 0xa5;
        }
        zmq_curve_keypair(pub, sec);
        zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, key, 32);
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    if (zmq_connect(sock, j->endpoint) != 0) {
        fprintf(stderr, "net_client: connect: %s\n", zmq_strerror(errno));
        exit(2);
    }
    return sock;
}

static void
s_envelope(const mpp_join_t *j, int kind, const char *token, void **data,
           size_t *len)
{
    mpp_envelope_t e = {.kind = kind, .sent_ns = mpp_clock_real_ns()};
    snprintf(e.token, sizeof(e.token), "%s", token);
    snprintf(e.host, sizeof(e.host), "intruder");
    snprintf(e.run, sizeof(e.run), "%s", "0123456789abcdef");
    (void)j;
    if (mpp_envelope_encode(&e, data, len) != 0) {
        exit(2);
    }
}

int
main(int argc, char **argv)
{
    mpp_join_t j;
    const char *why;
    if (argc != 4 || mpp_join_parse(argv[1], &j, &why) != 0) {
        fprintf(stderr, "usage: net_client JOIN MODE N\n");
        return 2;
    }
    const char *mode = argv[2];
    long n = atol(argv[3]);
    void *ctx = zmq_ctx_new();
    void *sock = s_connect(ctx, &j, strcmp(mode, "wrongkey") == 0);
    void *env, *junkenv;
    size_t envlen, junklen;
    char junk[64];
    memset(junk, 0xc1, sizeof(junk)); /* msgpack's never-used byte */
    s_envelope(&j, MPP_ENV_DATA, j.token, &env, &envlen);
    s_envelope(&j, MPP_ENV_JOIN, "ffffffffffffffffffffffffffffffff",
               &junkenv, &junklen);
    int dontwait = strcmp(mode, "wrongkey") == 0 ? ZMQ_DONTWAIT : 0;
    long sent = 0;
    if (strcmp(mode, "wrongkey") == 0 || strcmp(mode, "wrongtoken") == 0) {
        for (long i = 0; i < n; i++) {
            sent += zmq_send(sock, junkenv, junklen, dontwait) >= 0;
        }
    }
    else if (strcmp(mode, "garbage") == 0) {
        for (long i = 0; i < n; i++) {
            sent += zmq_send(sock, junk, sizeof(junk), 0) >= 0;
            zmq_send(sock, env, envlen, ZMQ_SNDMORE);
            sent += zmq_send(sock, junk, sizeof(junk), 0) >= 0;
        }
        zmq_send(sock, env, envlen, ZMQ_SNDMORE);
        zmq_send(sock, junk, sizeof(junk), ZMQ_SNDMORE);
        sent += zmq_send(sock, junk, sizeof(junk), 0) >= 0;
    }
    else if (strcmp(mode, "flood") == 0) {
        int64_t until = mpp_clock_mono_ns() + n * 1000000000LL;
        while (mpp_clock_mono_ns() < until) {
            zmq_send(sock, env, envlen, ZMQ_SNDMORE);
            sent += zmq_send(sock, junk, sizeof(junk), 0) >= 0;
        }
    }
    else {
        fprintf(stderr, "net_client: unknown mode '%s'\n", mode);
        return 2;
    }
    printf("%ld\n", sent);
    fflush(stdout);
    free(env);
    free(junkenv);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}
