/*  Private to the shared mapping's units (mpp_shm.c: the file and its
 *  allocator; mpp_shm_fork.c: fork).  See mpp_shm.h. */
#ifndef MPP_SHM_PRIV_H
#define MPP_SHM_PRIV_H

#include "mpp_shm.h"

#include <sys/types.h>

struct mpp_shm {
    unsigned char *base;
    uint64_t reserve;
    uint64_t committed; /* bytes of the file known to be allocated */
    char *path;         /* NULL once the memory is private */
    /* The file's identity, so that a fork child copies from this file
     * and no other that took its name. */
    dev_t dev;
    ino_t ino;
};

/*  Allocates the file's pages below `upto`, rounded up to the commit step,
 *  or with `exact` to a page only; false when they cannot be. */
bool mpp_shm_commit_fd(mpp_shm_t *self, int fd, uint64_t upto, bool exact);

/* Records the identity of the file open as `fd`. */
void mpp_shm_note_file(mpp_shm_t *self, int fd);

#endif
