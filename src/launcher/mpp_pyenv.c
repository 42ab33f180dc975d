/*  The target Python: probe, pyshim directory, environment (see
 *  mpp_launcher.h).  The launcher never links libpython; it learns what
 *  it needs by asking the interpreter itself, once, before the run. */
#include "mpp_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Where `cmake --install` puts pyshim, relative to the executable. */
#ifndef MPP_PYSHIM_RELDIR
#define MPP_PYSHIM_RELDIR "../lib/mpprof/pyshim"
#endif

#define S_PROBE_TIMEOUT_MS 30000
#define S_PROBE_MAX (1024 * 1024) /* the lines and the environment */

/*  -S skips the site module: the probe needs only sysconfig, starts
 *  faster, and cannot be broken by a user's sitecustomize.
 *
 *  The third line is the interpreter itself (sys.executable) when the
 *  probe ran with exactly the arguments given, else empty: a wrapper that
 *  adds arguments cannot be run around.  Then, after a NUL, comes the
 *  environment the interpreter got, NUL-separated (see s_unwrap). */
static const char s_probe_code[] =
    "import os, sys, sysconfig\n"
    "print(sysconfig.get_config_var('EXT_SUFFIX'))\n"
    "print(sys.version.split()[0])\n"
    "a = getattr(sys, 'orig_argv', None)\n"
    "ok = a is not None and len(a) == 4 and a[1:3] == ['-S', '-c']\n"
    "print(sys.executable if ok else '')\n"
    "sys.stdout.flush()\n"
    "sys.stdout.buffer.write(b'\\0' + b'\\0'.join(\n"
    "    k + b'=' + v for k, v in os.environb.items()) + b'\\0')\n";

static bool
s_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*  Finds pyshim: MPPROF_PYSHIM, else beside the executable (build tree),
 *  else where the install puts it.  Returns a malloc'd absolute path. */
static char *
s_find_pyshim(void)
{
    const char *env = getenv("MPPROF_PYSHIM");
    char exe[PATH_MAX], cand[PATH_MAX + 64];

    if (env != NULL && env[0] != '\0') {
        return s_is_dir(env) ? realpath(env, NULL) : NULL;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return NULL;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL) {
        return NULL;
    }
    *slash = '\0';
    const char *rel[] = {"pyshim", MPP_PYSHIM_RELDIR};
    for (size_t i = 0; i < MPP_ARRAY_SIZE(rel); i++) {
        snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
        if (s_is_dir(cand)) {
            return realpath(cand, NULL);
        }
    }
    return NULL;
}

/*  Runs the probe and reads its output into buf (cap - 1 bytes at most,
 *  then a NUL; *len is how many).  Returns 0 when the interpreter ran and
 *  exited 0, a negated errno when it could not be run, MPP_EPROTO
 *  otherwise. */
static int
s_run_probe(const char *path, const char *name, char *buf, size_t cap,
            size_t *lenp)
{
    char *argv[] = {(char *)name, "-S", "-c", (char *)s_probe_code, NULL};
    int out[2], devnull, rc;
    size_t len = 0;
    pid_t pid;

    if (pipe2(out, O_CLOEXEC) != 0) {
        return -errno;
    }
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    mpp_spawn_opts_t o = {
        .path = path, .argv = argv, .stdout_fd = out[1],
        .stderr_fd = devnull, .sigmask = NULL,
    };
    rc = mpp_spawn(&o, &pid);
    close(out[1]);
    if (devnull >= 0) {
        close(devnull);
    }
    if (rc != 0) {
        close(out[0]);
        return rc;
    }
    int64_t deadline = mpp_now_mono_ns() + S_PROBE_TIMEOUT_MS * 1000000LL;
    for (;;) {
        int64_t left = (deadline - mpp_now_mono_ns()) / 1000000;
        struct pollfd pfd = {out[0], POLLIN, 0};
        if (left <= 0) {
            /* A Python that hangs at startup must not hang mpprof. */
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            continue;
        }
        ssize_t r = read(out[0], buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
        if (len == cap - 1) {
            break;
        }
    }
    buf[len] = '\0';
    *lenp = len;
    close(out[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) {
            return MPP_EPROTO;
        }
    }
    return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : MPP_EPROTO;
}

/* Takes the next line of *cursor, without its newline. */
static char *
s_next_line(char **cursor)
{
    char *line = *cursor;
    char *nl = strchr(line, '\n');
    if (nl != NULL) {
        *nl = '\0';
        *cursor = nl + 1;
    }
    else {
        *cursor = line + strlen(line);
    }
    return line;
}

/*  Whether `path` is a script ("#!" first), such as pyenv's shim: a
 *  wrapper that ends by exec'ing the real interpreter. */
static bool
s_is_script(const char *path)
{
    char head[2];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool script = read(fd, head, 2) == 2 && head[0] == '#' && head[1] == '!';
    close(fd);
    return script;
}

/*  When the interpreter found in PATH is a script that execs the real one
 *  (pyenv's shim is a bash script that runs `pyenv exec`, ~0.3 s), the
 *  target is started as the script would start it: the real interpreter,
 *  with the environment the script gave it, which the probe reported.
 *  The script's time is then the launcher's (it ran once, for the
 *  probe), not the target's start-up: start-up is timed from the exec of
 *  the process, and a script that execs keeps its process.  A script that
 *  changed the arguments is run as is (exe is then empty), and so is any
 *  interpreter that is not a script.  Returns 0 or MPP_ENOMEM. */
static int
s_unwrap(mpp_pyenv_t *env, const char *exe, const char *envs, size_t n)
{
    struct stat a, b;
    if (exe[0] != '/' || access(exe, X_OK) != 0 || stat(exe, &a) != 0 ||
        stat(env->path, &b) != 0 ||
        (a.st_dev == b.st_dev && a.st_ino == b.st_ino) ||
        !s_is_script(env->path)) {
        return 0;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        count += envs[i] == '\0';
    }
    char **envp = calloc(count + 1, sizeof(*envp));
    char *path = strdup(exe);
    if (envp == NULL || path == NULL) {
        free(envp);
        free(path);
        return MPP_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i += strlen(envs + i) + 1) {
        if (envs[i] != '\0' && strchr(envs + i, '=') != NULL &&
            (envp[k++] = strdup(envs + i)) == NULL) {
            mpp_env_free(&envp);
            free(path);
            return MPP_ENOMEM;
        }
    }
    free(env->path);
    env->path = path;
    env->environ = envp;
    return 0;
}

/* An extension suffix looks like ".cpython-311-x86_64-linux-gnu.so". */
static bool
s_suffix_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && s[0] == '.' && strcmp(s + n - 3, ".so") == 0 &&
           strchr(s, '/') == NULL;
}

int
mpp_pyenv_probe(mpp_pyenv_t *env, const char *python)
{
    memset(env, 0, sizeof(*env));
    size_t len = 0;

    int rc = mpp_find_program(python, &env->path);
    if (rc != 0) {
        mpp_say("cannot run '%s': %s", python, mpp_strerror(rc));
        return 127;
    }
    env->pyshim = s_find_pyshim();
    if (env->pyshim == NULL) {
        const char *set = getenv("MPPROF_PYSHIM");
        if (set != NULL && set[0] != '\0') {
            mpp_say("MPPROF_PYSHIM='%s' is not a directory", set);
        }
        else {
            mpp_say("cannot find the pyshim directory of this mpprof "
                    "build (set MPPROF_PYSHIM to it)");
        }
        return 2;
    }
    char *out = malloc(S_PROBE_MAX);
    if (out == NULL) {
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return 2;
    }
    rc = s_run_probe(env->path, python, out, S_PROBE_MAX, &len);
    if (rc < 0 && rc > MPP__EFIRST) {
        free(out);
        mpp_say("cannot run '%s': %s", python, mpp_strerror(rc));
        return 127;
    }
    /* The lines end at the first NUL; the environment follows it. */
    size_t lines = strlen(out);
    char *cursor = out;
    char *suffix = s_next_line(&cursor);
    char *version = s_next_line(&cursor);
    char *exe = s_next_line(&cursor);
    if (rc != 0 || !s_suffix_ok(suffix)) {
        free(out);
        mpp_say("'%s' does not look like a Python interpreter", env->path);
        return 2;
    }
    if (lines < len && s_unwrap(env, exe, out + lines + 1,
                                len - lines - 1) != 0) {
        free(out);
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return 2;
    }
    env->ext_suffix = strdup(suffix);
    env->version = strdup(version[0] != '\0' ? version : "unknown");
    free(out);
    suffix = env->ext_suffix;
    char *collector = NULL;
    if (env->ext_suffix == NULL || env->version == NULL ||
        asprintf(&collector, "%s/mpprof/_collector%s", env->pyshim,
                 suffix) < 0) {
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return 2;
    }
    bool found = access(collector, R_OK) == 0;
    free(collector);
    if (!found) {
        size_t n = strlen(suffix);
        mpp_say("no collector built for %s (%.*s): build mpprof with "
                "-DPython3_EXECUTABLE=%s", env->path, (int)(n - 4),
                suffix + 1, env->path);
        return 2;
    }
    return 0;
}

void
mpp_pyenv_fini(mpp_pyenv_t *env)
{
    free(env->path);
    free(env->ext_suffix);
    free(env->version);
    free(env->pyshim);
    mpp_env_free(&env->environ);
    memset(env, 0, sizeof(*env));
}

/* The variables mpprof sets; inherited values are replaced. */
static const char *const s_ours[] = {
    "PYTHONPATH=", "MPPROF_ENDPOINT=", "MPPROF_SESSION=",
    "MPPROF_INTERVAL_MS=", "MPPROF_PYSHIM=", "MPPROF_SHM_DIR=",
};

static bool
s_is_ours(const char *entry)
{
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_ours); i++) {
        if (strncmp(entry, s_ours[i], strlen(s_ours[i])) == 0) {
            return true;
        }
    }
    return false;
}

char **
mpp_pyenv_environ(const mpp_pyenv_t *env, const char *endpoint,
                  const char *token, int interval_ms, const char *shm_dir)
{
    char **base = env->environ != NULL ? env->environ : environ;
    size_t n = 0, k = 0;
    while (base[n] != NULL) {
        n++;
    }
    char **envp = calloc(n + MPP_ARRAY_SIZE(s_ours) + 1, sizeof(*envp));
    if (envp == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s_is_ours(base[i]) && (envp[k++] = strdup(base[i])) == NULL) {
            goto fail;
        }
    }
    /* pyshim comes first so that its sitecustomize is the one imported;
     * it chains to any sitecustomize later on the path. */
    const char *old = NULL;
    for (size_t i = 0; i < n && old == NULL; i++) {
        if (strncmp(base[i], "PYTHONPATH=", 11) == 0) {
            old = base[i] + 11;
        }
    }
    bool keep = old != NULL && old[0] != '\0';
    if (asprintf(&envp[k++], "PYTHONPATH=%s%s%s", env->pyshim,
                 keep ? ":" : "", keep ? old : "") < 0 ||
        asprintf(&envp[k++], "MPPROF_ENDPOINT=%s", endpoint) < 0 ||
        asprintf(&envp[k++], "MPPROF_SESSION=%s", token) < 0 ||
        asprintf(&envp[k++], "MPPROF_INTERVAL_MS=%d", interval_ms) < 0 ||
        asprintf(&envp[k++], "MPPROF_PYSHIM=%s", env->pyshim) < 0 ||
        (shm_dir != NULL &&
         asprintf(&envp[k++], "MPPROF_SHM_DIR=%s", shm_dir) < 0)) {
        /* asprintf leaves the pointer undefined on failure. */
        envp[k - 1] = NULL;
        goto fail;
    }
    return envp;
fail:
    mpp_env_free(&envp);
    return NULL;
}

void
mpp_env_free(char ***envp_p)
{
    if (envp_p == NULL || *envp_p == NULL) {
        return;
    }
    for (char **e = *envp_p; *e != NULL; e++) {
        free(*e);
    }
    free(*envp_p);
    *envp_p = NULL;
}
