/*  The output directory: checks before the run, atomic writes after it
 *  (see mpp_launcher.h). */
#include "mpp_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*  Cuts the last component off `path` in place: "a/b/" -> "a", "a" ->
 *  ".", "/a" -> "/". */
static void
s_parent(char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    while (n > 0 && path[n - 1] != '/') {
        n--;
    }
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    if (n == 0) {
        strcpy(path, ".");
    }
    else {
        path[n] = '\0';
    }
}

/*  Creating a file is the only reliable test of writability: access()
 *  answers yes to root on a read-only mount, and ACLs or quotas can say
 *  no where the mode bits say yes. */
static int
s_try_create(const char *dir)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s/.mpprof-check-XXXXXX", dir) < 0) {
        return -ENOMEM;
    }
    int fd = mkstemp(tmp);
    int rc = fd < 0 ? -errno : 0;
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int
mpp_outdir_check(const char *dir)
{
    struct stat st;
    char *path = strdup(dir);
    int rc = 0;

    if (path == NULL) {
        return -ENOMEM;
    }
    if (path[0] == '\0') {
        free(path);
        return -ENOENT;
    }
    /* A directory that does not exist yet is created after the run, so
     * what must be writable now is its nearest existing ancestor. */
    while (stat(path, &st) != 0) {
        if (errno != ENOENT || strcmp(path, ".") == 0 ||
            strcmp(path, "/") == 0) {
            rc = -errno;
            break;
        }
        s_parent(path);
    }
    if (rc == 0) {
        rc = S_ISDIR(st.st_mode) ? s_try_create(path) : -ENOTDIR;
    }
    free(path);
    return rc;
}

int
mpp_outdir_create(const char *dir)
{
    struct stat st;
    char *path = strdup(dir);
    if (path == NULL) {
        return -ENOMEM;
    }
    if (path[0] == '\0') {
        free(path);
        return -ENOENT;
    }
    /* mkdir -p: each prefix in turn; existing ones are fine. */
    for (char *p = path + 1;; p++) {
        bool last = *p == '\0';
        if (*p == '/' || last) {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                int rc = -errno;
                free(path);
                return rc;
            }
            *p = c;
        }
        if (last) {
            break;
        }
    }
    free(path);
    if (stat(dir, &st) != 0) {
        return -errno;
    }
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/*  mkstemp creates files 0600; outputs are meant to be shared like any
 *  file the user creates, so they get 0666 less the umask.  umask() can
 *  only be read by setting it; the other threads are gone by now, so the
 *  short change is seen by no one. */
static mode_t
s_file_mode(void)
{
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

/*  A writer that fails on a full disk usually reports only ferror(), as
 *  -EIO.  The cause is still in the stream: stdio keeps the unwritten
 *  bytes, so flushing again fails again and sets errno to it. */
static int
s_stream_error(FILE *out, int rc)
{
    if (rc != -EIO && !(rc == 0 && ferror(out))) {
        return rc;
    }
    errno = 0;
    if (fflush(out) != 0 && errno != 0) {
        return -errno;
    }
    return rc != 0 ? rc : -EIO;
}

int
mpp_outdir_stage(const char *dir, const char *name, mpp_write_fn fn,
                 const void *arg, char **tmp_out)
{
    char *tmp = NULL;
    int rc = 0;

    *tmp_out = NULL;
    if (asprintf(&tmp, "%s/.%s.tmpXXXXXX", dir, name) < 0) {
        return -ENOMEM;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = -errno;
        free(tmp);
        return rc;
    }
    FILE *out = fdopen(fd, "wb");
    if (out == NULL) {
        rc = -errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return rc;
    }
    fchmod(fd, s_file_mode());
    rc = s_stream_error(out, fn(arg, out));
    if (rc == 0 && fflush(out) != 0) {
        rc = -errno;
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    if (fclose(out) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
        free(tmp);
        return rc;
    }
    *tmp_out = tmp;
    return 0;
}

int
mpp_outdir_commit(const char *dir, const char *name, char **tmp_p)
{
    char *final = NULL;
    int rc = 0;

    if (asprintf(&final, "%s/%s", dir, name) < 0) {
        rc = -ENOMEM;
    }
    else if (rename(*tmp_p, final) != 0) {
        rc = -errno;
    }
    free(final);
    if (rc != 0) {
        unlink(*tmp_p);
    }
    free(*tmp_p);
    *tmp_p = NULL;
    return rc;
}

void
mpp_outdir_discard(char **tmp_p)
{
    if (*tmp_p != NULL) {
        unlink(*tmp_p);
        free(*tmp_p);
        *tmp_p = NULL;
    }
}

int
mpp_outdir_write(const char *dir, const char *name, mpp_write_fn fn,
                 const void *arg)
{
    char *tmp = NULL;
    int rc = mpp_outdir_stage(dir, name, fn, arg, &tmp);
    return rc != 0 ? rc : mpp_outdir_commit(dir, name, &tmp);
}

void
mpp_outdir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}
