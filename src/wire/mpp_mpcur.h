/*  A bounds-checked msgpack cursor: the one reader of msgpack bytes,
 *  shared by the wire decoder (mpp_wire_decode.c) and the session file
 *  reader (mpp_sessfile.c).  It reads values straight from the bytes, without
 *  building an object tree, and never reads at or past `end`, whatever
 *  the bytes claim.
 *
 *  Every function that can fail returns 0, MPP_ETRUNC when the bytes end
 *  before the value does, or MPP_ECORRUPT when the value is not what was
 *  asked for (another type, out of range, the reserved byte 0xc1).  The
 *  callers map these to their own codes: the session file keeps the
 *  distinction, the wire decoder reports either as MPP_EPROTO.  After a
 *  failure the cursor points somewhere inside the value, so the caller
 *  stops reading.
 *
 *  Integers are classified as msgpack-c does: a signed encoding of a
 *  value >= 0 is a positive integer, so writers may pick any encoding.
 */
#ifndef MPP_MPCUR_H
#define MPP_MPCUR_H

#include "mpp_internal.h"

typedef struct {
    const uint8_t *p;   /* the next byte to read */
    const uint8_t *end; /* one past the last byte */
} mpp_mpcur_t;

static inline size_t
mpp_mpcur_left(const mpp_mpcur_t *c)
{
    return (size_t)(c->end - c->p);
}

/*  Steps over one object's header and payload (string, binary and
 *  extension bodies, fixed-size numbers).  For a container the cursor
 *  stops at its first element, and *children is the number of objects it
 *  holds (a map counts its keys and values); otherwise it is 0. */
int mpp_mpcur_next(mpp_mpcur_t *c, uint64_t *children);

/*  Steps over one whole object, containers included.  Iterative, and the
 *  count of objects still to skip may never exceed the bytes left, so
 *  hostile nesting costs neither stack nor overflow. */
int mpp_mpcur_skip(mpp_mpcur_t *c);

/* An integer in [0, max]. */
int mpp_mpcur_uint(mpp_mpcur_t *c, uint64_t max, uint64_t *v);

/* An integer in [min, max]. */
int mpp_mpcur_int(mpp_mpcur_t *c, int64_t min, int64_t max, int64_t *v);

/*  The same for the fixed-width fields.  The narrow ones store the value
 *  truncated (0 when nothing was read) even on failure, so a caller may
 *  read straight into its struct. */
int mpp_mpcur_u64(mpp_mpcur_t *c, uint64_t *v);
int mpp_mpcur_u32(mpp_mpcur_t *c, uint32_t *v);
int mpp_mpcur_i64(mpp_mpcur_t *c, int64_t *v);
int mpp_mpcur_i32(mpp_mpcur_t *c, int32_t *v);

int mpp_mpcur_bool(mpp_mpcur_t *c, bool *v);

/* A cost as mpp_pack_cost writes it: ncalls, pcalls, tt_ns, ct_ns. */
int mpp_mpcur_cost(mpp_mpcur_t *c, mpp_cost_t *cost);

/* Consumes a nil if one is next; says whether it did. */
bool mpp_mpcur_nil(mpp_mpcur_t *c);

/*  An array or map header; the cursor moves to the first element.  Every
 *  element needs at least one byte, so a count beyond the bytes left is
 *  MPP_ETRUNC: no caller ever sizes anything from a count that lies. */
int mpp_mpcur_array(mpp_mpcur_t *c, uint32_t *n);
int mpp_mpcur_map(mpp_mpcur_t *c, uint32_t *n);

/* A string, in place: *s points into the bytes and is not terminated. */
int mpp_mpcur_str(mpp_mpcur_t *c, const char **s, size_t *n);

/*  A string that is to become a C string, so it may not contain NUL
 *  (MPP_ECORRUPT).  With nil_ok a nil is accepted and gives *s == NULL. */
int mpp_mpcur_cstr(mpp_mpcur_t *c, bool nil_ok, const char **s, size_t *n);

#endif
