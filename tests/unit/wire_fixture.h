/*  Shared by the wire codec's tests (test_wire.c, test_wire_decode.c): the
 *  sample messages of every type, comparing a decoded message with what
 *  was encoded, and packing hand-made messages (envelopes, bodies, any
 *  byte sequence) with msgpack-c's packer, so the decoder can be given
 *  what the encoder would never write. */
#ifndef MPP_WIRE_FIXTURE_H
#define MPP_WIRE_FIXTURE_H

#include "mpp_internal.h"
#include "mpp_test.h"

#include <msgpack.h>

#define TOKEN "0123456789abcdef0123456789abcdef"

/* Seconds on the monotonic clock. */
double mpp_wt_now(void);

int mpp_wt_decode_buf(const mpp_buf_t *b, mpp_msg_t *m);

/* True when every byte of the message is zero, as after a failed decode. */
int mpp_wt_is_zero(const mpp_msg_t *m);

void mpp_wt_check_cost(const mpp_cost_t *a, const mpp_cost_t *b);

/* The sample HELLO's argv: an empty and a non-ASCII argument among them. */
#define MPP_WT_ARGC 4
extern const char *mpp_wt_argv[MPP_WT_ARGC];

/*  Sample messages with values at the edges of every field's range; the
 *  DATA one points into static tables, so one is valid at a time. */
mpp_msg_t mpp_wt_hello(void);
mpp_msg_t mpp_wt_data(void);
mpp_msg_t mpp_wt_bye(void);

/* Encodes m into a fresh buffer, asserting success. */
void mpp_wt_encode(const mpp_msg_t *m, mpp_buf_t *b);

/* Asserts that `out` decoded from the encoding of DATA message `in`. */
void mpp_wt_check_data(const mpp_msg_t *in, const mpp_msg_t *out);

/* ---- hand-made messages ------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mpp_wt_raw_t;

void mpp_wt_raw_init(mpp_wt_raw_t *r);
void mpp_wt_raw_str(mpp_wt_raw_t *r, const char *s);

/* Packs the envelope up to the body: the caller packs the body next. */
void mpp_wt_raw_head(mpp_wt_raw_t *r, size_t nelems, uint32_t version,
                     uint32_t type);

/*  Decodes what was packed and frees it; returns the decoder's result,
 *  after asserting that a failure left the message zeroed. */
int mpp_wt_raw_decode(mpp_wt_raw_t *r);

#endif
