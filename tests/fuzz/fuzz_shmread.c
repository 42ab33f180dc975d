/*  libFuzzer target for the agent's mapping reader (src/agent), the code
 *  that reads files any process of the session can write: arbitrary
 *  bytes read as one process's shared mapping.
 *
 *  Besides "no crash, no leak, no undefined behaviour, no allocation
 *  beyond what the input holds", it checks that every message the reader
 *  emits decodes (the reader only ever hands the aggregator well-formed
 *  frames), over a live read, a second live read (changes only) and the
 *  final read of the same reader (with an acknowledgment that cannot be
 *  written and a CPU time from the agent), and a final read by a fresh
 *  one. */
#include "mpp_internal.h"

#include <string.h>

#include "mpp_shmread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_check(const mpp_shmread_out_t *out)
{
    for (size_t i = 0; i < out->n; i++) {
        mpp_msg_t m;
        if (mpp_wire_decode(out->frame[i].data, out->frame[i].len, &m) != 0) {
            __builtin_trap();
        }
        mpp_msg_clear(&m);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char token[] = "0123456789abcdef0123456789abcdef";
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    mpp_shmread_t *r = mpp_shmread_new(token);
    if (r == NULL) {
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        if (mpp_shmread_read(r, data, size, &out) == 0) {
            s_check(&out);
        }
        mpp_shmread_out_reset(&out);
        /* No file to write to: the acknowledgment fails cleanly. */
        (void)mpp_shmread_ack(r, -1);
    }
    mpp_shmread_set_cpu_ns(r, 123456789);
    if (mpp_shmread_final(r, data, size, 1000000, MPP_EXIT_SIGNAL, 9,
                          &out) == 0) {
        s_check(&out);
    }
    mpp_shmread_out_reset(&out);
    mpp_shmread_destroy(&r);
    r = mpp_shmread_new(token);
    if (r != NULL &&
        mpp_shmread_final(r, data, size, 0, MPP_EXIT_LOST, 0, &out) == 0) {
        s_check(&out);
    }
    mpp_shmread_destroy(&r);
    mpp_shmread_out_fini(&out);
    return 0;
}
