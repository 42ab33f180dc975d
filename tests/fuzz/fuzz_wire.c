/*  libFuzzer target for the wire decoder, the code that reads whatever
 *  arrives on the aggregator's socket.
 *
 *  Besides "no crash, no leak, no undefined behaviour" it checks two
 *  properties: a failed decode leaves the message zeroed, and whatever
 *  decodes re-encodes to a message that decodes to the same thing (the
 *  second encoding equals the first byte for byte). */
#include "mpp_internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_encode_or_die(const mpp_msg_t *m, mpp_buf_t *b)
{
    mpp_buf_init(b);
    if (mpp_wire_encode(m, b) != 0) {
        __builtin_trap();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mpp_msg_t zero;
    mpp_msg_t m;
    if (mpp_wire_decode(data, size, &m) != 0) {
        if (memcmp(&m, &zero, sizeof(m)) != 0) {
            __builtin_trap();
        }
        return 0;
    }
    mpp_buf_t b1, b2;
    mpp_msg_t m2;
    s_encode_or_die(&m, &b1);
    if (mpp_wire_decode(b1.data, b1.len, &m2) != 0) {
        __builtin_trap();
    }
    s_encode_or_die(&m2, &b2);
    if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0) {
        __builtin_trap();
    }
    mpp_buf_fini(&b1);
    mpp_buf_fini(&b2);
    mpp_msg_clear(&m2);
    mpp_msg_clear(&m);
    return 0;
}
