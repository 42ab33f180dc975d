/*  One table for the text of every mpprof error code (see mpprof.h). */
#include "mpp_internal.h"

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
        return "ERRNO";
    }
}
