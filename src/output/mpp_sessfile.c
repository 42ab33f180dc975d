/*  The session file's entry points: the header (magic and version) of a
 *  file in memory, and loading a file or an output directory.  Writing is
 *  in mpp_sessfile_write.c, the document itself in mpp_sessfile_read.c.
 */
#include "mpp_sessfile_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
mpp_sessfile_parse(const void *data, size_t len, mpp_session_t **out)
{
    if (out == NULL) {
        return MPP_EINVAL;
    }
    *out = NULL;
    if (data == NULL && len > 0) {
        return MPP_EINVAL;
    }
    /* A prefix of the magic is a file cut short, not a foreign one. */
    if (len < MPP_SESSFILE_MAGIC_LEN) {
        return len == 0 || memcmp(data, MPP_SESSFILE_MAGIC, len) == 0
                   ? MPP_ETRUNC
                   : MPP_EFORMAT;
    }
    if (memcmp(data, MPP_SESSFILE_MAGIC, MPP_SESSFILE_MAGIC_LEN) != 0) {
        return MPP_EFORMAT;
    }
    const uint8_t *bytes = data;
    mpp_mpcur_t r = {bytes + MPP_SESSFILE_MAGIC_LEN, bytes + len};
    uint64_t version;
    int rc = mpp_mpcur_u64(&r, &version);
    if (rc != 0) {
        return rc;
    }
    if (version != MPP_SESSFILE_VERSION) {
        return MPP_EVERSION;
    }
    mpp_session_t *s = mpp_session_new();
    if (s == NULL) {
        return MPP_ENOMEM;
    }
    rc = mpp_sessfile_read_doc(&r, s);
    if (rc == 0 && r.p != r.end) {
        rc = MPP_ECORRUPT; /* bytes after the document */
    }
    if (rc != 0) {
        mpp_session_destroy(&s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Reads a whole regular file; -errno on I/O errors. */
static int
s_read_file(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return MPP_EFORMAT;
    }
    /* The size is a hint only: the loop reads to end of file. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : MPP_ENOMEM;
    while (rc == 0) {
        if (n == cap && mpp_grow((void **)&buf, &cap, cap + 1, 1) != 0) {
            rc = MPP_ENOMEM;
            break;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0) {
            if (errno != EINTR) {
                rc = -errno;
            }
            continue;
        }
        if (got == 0) {
            break;
        }
        n += (size_t)got;
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return 0;
}

int
mpp_sessfile_load(const char *path, mpp_session_t **out)
{
    if (out == NULL) {
        return MPP_EINVAL;
    }
    *out = NULL;
    if (path == NULL) {
        return MPP_EINVAL;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return -errno;
    }
    char *file = NULL;
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + sizeof("/" MPP_SESSFILE_NAME);
        file = malloc(n);
        if (file == NULL) {
            return MPP_ENOMEM;
        }
        snprintf(file, n, "%s/%s", path, MPP_SESSFILE_NAME);
    }
    char *data = NULL;
    size_t len = 0;
    int rc = s_read_file(file ? file : path, &data, &len);
    free(file);
    if (rc == 0) {
        rc = mpp_sessfile_parse(data, len, out);
        free(data);
    }
    return rc;
}
