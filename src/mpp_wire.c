/* STUB: replaced by the wire unit. */
#include "mpp_internal.h"
#include <string.h>
void mpp_buf_init(mpp_buf_t *b) { memset(b, 0, sizeof(*b)); }
void mpp_buf_fini(mpp_buf_t *b) { free(b->data); memset(b, 0, sizeof(*b)); }
int mpp_buf_append(mpp_buf_t *b, const void *d, size_t n) {
    if (mpp_grow((void **)&b->data, &b->cap, b->len + n, 1)) return MPP_ENOMEM;
    memcpy(b->data + b->len, d, n); b->len += n; return 0; }
int mpp_wire_encode(const mpp_msg_t *m, mpp_buf_t *o) { (void)m; (void)o; return MPP_EINVAL; }
int mpp_wire_decode(const void *d, size_t n, mpp_msg_t *o) { (void)d; (void)n; memset(o, 0, sizeof(*o)); return MPP_EPROTO; }
void mpp_msg_clear(mpp_msg_t *m) { memset(m, 0, sizeof(*m)); }
