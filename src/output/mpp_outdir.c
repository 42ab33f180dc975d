/*  The output directory: checks before the run, atomic writes after it
 *  (see mpp_launcher.h). */
#include "mpp_hash.h"
#include "mpp_outdir.h"

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
        return MPP_ENOMEM;
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

/*  A copy of `dir` to cut up in *path.  Returns 0, MPP_ENOMEM, or -ENOENT
 *  for an empty name (which names no directory). */
static int
s_path_copy(const char *dir, char **path)
{
    *path = NULL;
    if (dir[0] == '\0') {
        return -ENOENT;
    }
    *path = strdup(dir);
    return *path ? 0 : MPP_ENOMEM;
}

int
mpp_outdir_check(const char *dir)
{
    struct stat st;
    char *path;
    int rc = s_path_copy(dir, &path);

    if (rc != 0) {
        return rc;
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
    char *path;
    int rc = s_path_copy(dir, &path);
    if (rc != 0) {
        return rc;
    }
    /* mkdir -p: each prefix in turn; existing ones are fine. */
    for (char *p = path + 1;; p++) {
        bool last = *p == '\0';
        if (*p == '/' || last) {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                rc = -errno;
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

/* Writes the content to an open stream; returns 0 or a negative code. */
typedef int (*s_write_fn)(const void *arg, FILE *out);

/*  Creates a new staging file dir/.name.tmpXXXXXX for writing.  Outputs
 *  are meant to be shared like any file the user creates, so the file is
 *  opened with mode 0666 and the kernel applies the umask (and any default
 *  ACL of the directory) as it would for any other program.  mkstemp
 *  would create it 0600, and fixing that afterwards needs the umask, which
 *  can only be read by setting it: a change every thread of the process
 *  sees, and ZeroMQ's I/O threads are still running when the outputs are
 *  written.  Returns the descriptor and the malloc'd path in *tmp_out,
 *  or a negative code. */
static int
s_open_tmp(const char *dir, const char *name, char **tmp_out)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint64_t seed = (uint64_t)mpp_clock_real_ns() ^ ((uint64_t)getpid() << 32);
    *tmp_out = NULL;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[7];
        uint64_t x = mpp_hash_mix64(seed += MPP_HASH_GOLDEN);
        for (size_t i = 0; i < sizeof(suffix) - 1; i++, x /= 36) {
            suffix[i] = digits[x % 36];
        }
        suffix[sizeof(suffix) - 1] = '\0';
        char *tmp = NULL;
        if (asprintf(&tmp, "%s/.%s.tmp%s", dir, name, suffix) < 0) {
            return MPP_ENOMEM;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            return fd;
        }
        int err = errno;
        free(tmp);
        if (err != EEXIST) {
            return -err;
        }
    }
    return -EEXIST;
}

/*  The writers report a failed stream as -EIO from ferror(), and stdio
 *  does not keep errno for them.  The staged files are written through
 *  this sink, which keeps the cause of the first failed write(2): a full
 *  disk then says ENOSPC. */
typedef struct {
    int fd;
    int err;
} s_sink_t;

static ssize_t
s_sink_write(void *cookie, const char *buf, size_t n)
{
    s_sink_t *sink = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(sink->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (sink->err == 0) {
                sink->err = w < 0 ? errno : EIO;
            }
            break;
        }
        done += (size_t)w;
    }
    /* A short count is how stdio learns of the failure, as from its own
     * file streams. */
    return (ssize_t)done;
}

/* Writes the content and syncs it.  Returns 0 or a negative code. */
static int
s_write_synced(int fd, s_write_fn fn, const void *arg)
{
    s_sink_t sink = {fd, 0};
    cookie_io_functions_t io = {.write = s_sink_write};
    FILE *out = fopencookie(&sink, "wb", io);
    if (out == NULL) {
        return -errno;
    }
    int rc = fn(arg, out);
    if (fflush(out) != 0 && rc == 0) {
        rc = -EIO;
    }
    if (ferror(out) && rc == 0) {
        rc = -EIO;
    }
    fclose(out);
    if (sink.err != 0 && (rc == 0 || rc == -EIO)) {
        rc = -sink.err;
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    return rc;
}

/*  Writes the content to dir/.name.tmpXXXXXX and syncs it, without
 *  touching dir/name.  Returns 0 and the temporary file's malloc'd path
 *  in *tmp_out, or a negative code with nothing left behind. */
static int
s_stage(const char *dir, const char *name, s_write_fn fn, const void *arg,
        char **tmp_out)
{
    char *tmp = NULL;

    *tmp_out = NULL;
    int fd = s_open_tmp(dir, name, &tmp);
    if (fd < 0) {
        return fd;
    }
    int rc = s_write_synced(fd, fn, arg);
    if (close(fd) != 0 && rc == 0) {
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

/*  Renames a staged file to dir/name, replacing any older one, and frees
 *  *tmp_p.  Returns 0 or a negated errno (the staged file is removed). */
static int
s_commit(const char *dir, const char *name, char **tmp_p)
{
    char *final = NULL;
    int rc = 0;

    if (asprintf(&final, "%s/%s", dir, name) < 0) {
        rc = MPP_ENOMEM;
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

/* Removes a staged file that will not be committed; frees *tmp_p. */
static void
s_discard(char **tmp_p)
{
    if (*tmp_p != NULL) {
        unlink(*tmp_p);
        free(*tmp_p);
        *tmp_p = NULL;
    }
}

/* Flushes the directory entries of the renamed files to disk. */
static void
s_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* ---- the files of an output directory ---------------------------------- */

static int
s_put_pstats(const void *arg, FILE *f)
{
    const mpp_outputs_t *c = arg;
    return mpp_pstats_write(c->s, c->v, f);
}

static int
s_put_callgrind(const void *arg, FILE *f)
{
    const mpp_outputs_t *c = arg;
    return mpp_callgrind_write(c->s, c->v, f);
}

static int
s_put_parts(const void *arg, FILE *f)
{
    const mpp_outputs_t *c = arg;
    return mpp_callgrind_write_parts(c->s, f);
}

static int
s_put_session(const void *arg, FILE *f)
{
    const mpp_outputs_t *c = arg;
    return mpp_sessfile_write(c->s, f);
}

static int
s_put_trace(const void *arg, FILE *f)
{
    const mpp_outputs_t *c = arg;
    return mpp_trace_write(c->s, f);
}

static int
s_put_html(const void *arg, FILE *f)
{
    const mpp_outputs_t *c = arg;
    return mpp_html_write(c->s, f);
}

static int
s_put_report(const void *arg, FILE *f)
{
    const mpp_outputs_t *c = arg;
    return mpp_report_text(c->s, &c->ro, f);
}

/*  The files, in the order they are written.  callgrind.parts holds one
 *  part per process; KCachegrind loads every callgrind.out* beside the
 *  file it opens, so that name must not start with callgrind.out. */
static const struct {
    const char *name;
    s_write_fn fn;
} s_outputs[] = {
    {"profile.prof", s_put_pstats},
    {"callgrind.out", s_put_callgrind},
    {"callgrind.parts", s_put_parts},
    {MPP_SESSFILE_NAME, s_put_session},
    {MPP_TRACE_NAME, s_put_trace},
    {MPP_HTML_NAME, s_put_html},
    {"report.txt", s_put_report},
};

int
mpp_outdir_write_all(const char *dir, const mpp_outputs_t *c,
                     const char **failed, bool *renaming)
{
    char *tmp[MPP_ARRAY_SIZE(s_outputs)] = {NULL};
    size_t i;
    int rc = 0;

    *failed = NULL;
    *renaming = false;
    for (i = 0; i < MPP_ARRAY_SIZE(s_outputs) && rc == 0; i++) {
        rc = s_stage(dir, s_outputs[i].name, s_outputs[i].fn, c, &tmp[i]);
        if (rc == 0 && c->step != NULL) {
            c->step(c->step_arg, s_outputs[i].name);
        }
    }
    if (rc != 0) {
        *failed = s_outputs[i - 1].name;
        for (size_t k = 0; k < MPP_ARRAY_SIZE(s_outputs); k++) {
            s_discard(&tmp[k]);
        }
        return rc;
    }
    /* Renames within one directory only fail when something else is very
     * wrong; the files already renamed are complete and stay. */
    for (i = 0; i < MPP_ARRAY_SIZE(s_outputs); i++) {
        if (rc == 0 && (rc = s_commit(dir, s_outputs[i].name, &tmp[i])) != 0) {
            *failed = s_outputs[i].name;
            *renaming = true;
        }
        s_discard(&tmp[i]);
    }
    s_sync(dir);
    if (c->step != NULL) {
        c->step(c->step_arg, NULL);
    }
    return rc;
}
