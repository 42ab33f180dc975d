/*  One table for the text of every mpprof error code (see mpprof.h). */
#include "mpp_internal.h"

#include <errno.h>
#include <string.h>

const char *
mpp_strerror(int err)
{
    switch (err) {
    case MPP_OK:
        return "success";
#define MPP_XX(code, text)                                                    \
    case MPP_##code:                                                          \
        return text;
        MPP_ERRNO_MAP(MPP_XX)
#undef MPP_XX
    default:
        break;
    }
    if (err < 0 && err > MPP__EFIRST) {
        return strerror(-err);
    }
    return "unknown error";
}

/*  The symbol of an errno value ("ENOENT"), or NULL when the C library
 *  knows none.  glibc 2.32 has strerrorname_np; elsewhere the values that
 *  mpprof itself meets (files, sockets, processes, memory) are named. */
static const char *
s_errno_name(int e)
{
#if defined(__GLIBC__) &&                                                     \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    return strerrorname_np(e);
#else
    switch (e) {
#define S_E(name)                                                             \
    case name:                                                                \
        return #name;
        S_E(EPERM)
        S_E(ENOENT)
        S_E(ESRCH)
        S_E(EINTR)
        S_E(EIO)
        S_E(EBADF)
        S_E(ECHILD)
        S_E(EAGAIN)
        S_E(ENOMEM)
        S_E(EACCES)
        S_E(EEXIST)
        S_E(ENOTDIR)
        S_E(EISDIR)
        S_E(EINVAL)
        S_E(EMFILE)
        S_E(ENOSPC)
        S_E(EPIPE)
        S_E(ERANGE)
        S_E(ENAMETOOLONG)
        S_E(ENOSYS)
        S_E(EADDRINUSE)
        S_E(ECONNREFUSED)
        S_E(ETIMEDOUT)
#undef S_E
    default:
        return NULL;
    }
#endif
}

const char *
mpp_err_name(int err)
{
    switch (err) {
    case MPP_OK:
        return "OK";
#define MPP_XX(code, text)                                                    \
    case MPP_##code:                                                          \
        return #code;
        MPP_ERRNO_MAP(MPP_XX)
#undef MPP_XX
    default:
        break;
    }
    if (err < 0 && err > MPP__EFIRST) {
        const char *name = s_errno_name(-err);
        return name != NULL ? name : "ERRNO";
    }
    return "UNKNOWN";
}
