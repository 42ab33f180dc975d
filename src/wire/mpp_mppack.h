/*  msgpack packing shared by the wire encoder (mpp_wire_encode.c) and the
 *  session file writer (mpp_sessfile.c): the values both formats encode
 *  the same way.  mpp_mpcur.h reads them back.  Inline, because the wire
 *  encoder runs in the profiled process, once per table row. */
#ifndef MPP_MPPACK_H
#define MPP_MPPACK_H

#include <msgpack.h>
#include <string.h>

#include "mpp_internal.h"

/* A map key (never NULL). */
static inline void
mpp_pack_key(msgpack_packer *pk, const char *key)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
}

/* A cost as four columns: ncalls, pcalls, tt_ns, ct_ns. */
static inline void
mpp_pack_cost(msgpack_packer *pk, const mpp_cost_t *c)
{
    msgpack_pack_uint64(pk, c->ncalls);
    msgpack_pack_uint64(pk, c->pcalls);
    msgpack_pack_int64(pk, c->tt_ns);
    msgpack_pack_int64(pk, c->ct_ns);
}

/* A row of a stats table: [func, ncalls, pcalls, tt_ns, ct_ns]. */
static inline void
mpp_pack_stat(msgpack_packer *pk, uint32_t func, const mpp_cost_t *c)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_uint32(pk, func);
    mpp_pack_cost(pk, c);
}

/* A row of an edges table: [caller, callee, ncalls, pcalls, tt_ns, ct_ns]. */
static inline void
mpp_pack_edge(msgpack_packer *pk, uint32_t caller, uint32_t callee,
              const mpp_cost_t *c)
{
    msgpack_pack_array(pk, 6);
    msgpack_pack_uint32(pk, caller);
    msgpack_pack_uint32(pk, callee);
    mpp_pack_cost(pk, c);
}

/* A thread's category values: [[ns, count, bytes]] * MPP_CAT_COUNT. */
static inline void
mpp_pack_cats(msgpack_packer *pk, const mpp_catval_t cat[MPP_CAT_COUNT])
{
    msgpack_pack_array(pk, MPP_CAT_COUNT);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        msgpack_pack_array(pk, 3);
        msgpack_pack_uint64(pk, cat[c].ns);
        msgpack_pack_uint64(pk, cat[c].count);
        msgpack_pack_uint64(pk, cat[c].bytes);
    }
}

#endif
