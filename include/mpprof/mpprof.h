/*  mpprof public header: version and error codes.
 *
 *  Every function in mpprof that can fail returns 0 (or a non-negative
 *  value) on success and a negative MPP_E* code on failure; mpp_strerror()
 *  turns any such code, including negated errno values, into text.
 */
#ifndef MPPROF_MPPROF_H
#define MPPROF_MPPROF_H

#define MPPROF_VERSION_MAJOR 0
#define MPPROF_VERSION_MINOR 1
#define MPPROF_VERSION_PATCH 0
#define MPPROF_MAKE_VERSION(a, b, c) (((a) << 16) | ((b) << 8) | (c))
#define MPPROF_VERSION                                                        \
    MPPROF_MAKE_VERSION(MPPROF_VERSION_MAJOR, MPPROF_VERSION_MINOR,          \
                        MPPROF_VERSION_PATCH)
#define MPPROF_VERSION_STRING "0.1.0"

/*  X-macro: one line per error, so the enum and the text table in
 *  mpp_error.c can never drift apart.  Values start at -1000 so they never
 *  collide with negated errno values, which are also accepted. */
#define MPP_ERRNO_MAP(X)                                                      \
    X(ENOMEM, "out of memory")                                                \
    X(EINVAL, "invalid argument")                                             \
    X(EPROTO, "malformed message")                                            \
    X(EVERSION, "unsupported format version")                                 \
    X(ETOKEN, "message from a foreign session")                               \
    X(EREPLAY, "replayed or out-of-order message")                            \
    X(ETOOBIG, "message or field too large")                                  \
    X(EFORMAT, "not an mpprof file")                                          \
    X(ETRUNC, "file is truncated")                                            \
    X(ECORRUPT, "file is corrupted")                                          \
    X(ENOCOLLECTOR, "no collector built for this Python")                     \
    X(EUSAGE, "usage error")

typedef enum {
    MPP_OK = 0,
    MPP__EFIRST = -1000,
#define MPP_XX(code, _) MPP_##code,
    MPP_ERRNO_MAP(MPP_XX)
#undef MPP_XX
    MPP__ELAST
} mpp_errno_t;

/* Returns static text for an MPP_E* code or a negated errno value. */
const char *mpp_strerror(int err);

/*  Returns the symbolic name of a code: "OK", "EPROTO" for MPP_EPROTO,
 *  "ENOENT" for -ENOENT; "ERRNO" for a negated errno value the C library
 *  has no name for, "UNKNOWN" for anything else. */
const char *mpp_err_name(int err);

#endif
