/*  The forms `mpprof run` accepts after its own options (see
 *  mpp_runform.h): SCRIPT ARGS... as ever, `python3 [OPTS] (SCRIPT | -m
 *  MODULE | -c CODE) ARGS...`, and CONSOLE-SCRIPT ARGS... whose #! line
 *  names a Python.
 *
 *  A launcher puts mpprof in front of the command a user would type
 *  (`mpirun -n 4 mpprof run python3 job.py`), so the words are read as
 *  the shell and the kernel would read them.  Whatever the form, mpp_run.c
 *  still starts the interpreter, its options, then the program: only the
 *  words are told apart here.  The interpreter is confirmed later by the
 *  launcher's one probe (mpp_pyenv_probe), which also refuses a program
 *  that only looks like a Python by its name.
 */
#include "mpp_runform.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Linux reads at most this much of a #! line (BINPRM_BUF_SIZE). */
#define S_HEAD_MAX 256

/* What the first bytes of a file say it is. */
typedef enum {
    S_MISSING,    /* no such file: the run's own checks say so */
    S_DIR,        /* Python runs a directory's __main__.py */
    S_ELF,        /* a compiled program: not a script */
    S_PY_SHEBANG, /* a #! line naming a Python */
    S_SHEBANG,    /* a #! line naming anything else */
    S_PLAIN       /* anything else: Python source, .pyc, a zip */
} s_kind_t;

typedef struct {
    s_kind_t kind;
    char line[S_HEAD_MAX + 1]; /* the #! line, cut into words in place */
    char *python;              /* its interpreter (a name under env) */
    char *args;                /* what follows it, or NULL */
    bool split;                /* `env -S`: args are several words */
} s_head_t;

/* What the first word is. */
typedef enum {
    S_FORM_SCRIPT,      /* run by --python or python3, as ever */
    S_FORM_SHEBANG,     /* a script run by the Python of its #! line */
    S_FORM_INTERPRETER, /* an interpreter, its options and program */
    S_FORM_NOT_PYTHON   /* refused */
} s_form_t;

static const char *
s_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

bool
mpp_runform_is_pyname(const char *s)
{
    if (strncmp(s, "python", 6) != 0) {
        return false;
    }
    s += 6;
    if (*s == '3') {
        s++;
        if (*s == '.') {
            s++;
            if (!isdigit((unsigned char)*s)) {
                return false;
            }
            while (isdigit((unsigned char)*s)) {
                s++;
            }
        }
        /* Free-threaded (t), debug (d) and pymalloc (m, before 3.8)
         * builds, each letter at most once. */
        bool seen[3] = {false, false, false};
        for (const char *k; *s != '\0' && (k = strchr("tdm", *s)) != NULL;
             s++) {
            if (seen[k - "tdm"]) {
                return false;
            }
            seen[k - "tdm"] = true;
        }
    }
    return *s == '\0' || strcmp(s, "-dbg") == 0;
}

/*  Whether `name` names an interpreter by its own name or, being a
 *  symlink (a venv's bin/python, Debian's python3), by the name of what
 *  it resolves to.  A bare name (under env) is looked up in PATH. */
static bool
s_names_python(const char *name)
{
    char *found = NULL;
    if (mpp_runform_is_pyname(s_base(name))) {
        return true;
    }
    if (strchr(name, '/') == NULL) {
        if (mpp_find_program(name, &found) != 0) {
            return false;
        }
        name = found;
    }
    char *real = realpath(name, NULL);
    bool named = real != NULL && mpp_runform_is_pyname(s_base(real));
    free(real);
    free(found);
    return named;
}

static bool
s_blank(char c)
{
    return c == ' ' || c == '\t';
}

/*  Takes the word at *p (after blanks), ends it with a NUL and leaves *p
 *  on the next word.  Returns it, "" at the end. */
static char *
s_cut_word(char **p)
{
    char *s = *p, *word;
    while (s_blank(*s)) {
        s++;
    }
    for (word = s; *s != '\0' && !s_blank(*s); s++) {
    }
    if (*s != '\0') {
        *s++ = '\0';
    }
    while (s_blank(*s)) {
        s++;
    }
    *p = s;
    return word;
}

/*  Cuts the #! line in h->line into the interpreter and its argument as
 *  Linux does (one argument: the rest of the line, trimmed), and looks
 *  through env to the program it runs, splitting its words under -S. */
static void
s_parse_shebang(s_head_t *h)
{
    char *p = h->line + 2;
    h->kind = S_SHEBANG;
    char *interp = s_cut_word(&p);
    for (char *end = p + strlen(p); end > p && s_blank(end[-1]); end--) {
        end[-1] = '\0';
    }
    char *rest = *p != '\0' ? p : NULL;
    if (interp[0] == '\0') {
        return;
    }
    if (strcmp(s_base(interp), "env") != 0) {
        h->python = interp;
        h->args = rest;
    }
    else if (rest == NULL) {
        return;
    }
    else if (strncmp(rest, "-S", 2) == 0 &&
             (rest[2] == '\0' || s_blank(rest[2]))) {
        p = rest + 2;
        h->python = s_cut_word(&p);
        h->args = *p != '\0' ? p : NULL;
        h->split = true;
    }
    else if (strpbrk(rest, " \t") == NULL && rest[0] != '-') {
        /* Without -S, env gets the rest as one name: with a blank in it,
         * the plain run would fail to find it too. */
        h->python = rest;
    }
    if (h->python != NULL && h->python[0] != '\0' &&
        s_names_python(h->python)) {
        h->kind = S_PY_SHEBANG;
    }
}

/* Reads what `path` is into *h. */
static void
s_read_head(const char *path, s_head_t *h)
{
    struct stat st;
    memset(h, 0, sizeof(*h));
    if (stat(path, &st) != 0) {
        h->kind = errno == ENOENT || errno == ENOTDIR ? S_MISSING : S_PLAIN;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        h->kind = S_DIR;
        return;
    }
    /* A file that cannot be read is left to the run's own check, which
     * says why in the words it always has. */
    h->kind = S_PLAIN;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    /* A regular file's read is not interrupted by a signal. */
    ssize_t n = read(fd, h->line, S_HEAD_MAX);
    close(fd);
    if (n < 2) {
        return;
    }
    h->line[n] = '\0';
    if (n >= 4 && memcmp(h->line, "\177ELF", 4) == 0) {
        h->kind = S_ELF;
    }
    else if (h->line[0] == '#' && h->line[1] == '!') {
        h->line[strcspn(h->line, "\r\n")] = '\0';
        s_parse_shebang(h);
    }
}

/*  A script file by what it holds.  A #! line is honoured when the file
 *  is executable, as the kernel honours it; a plain `python3 job.py`
 *  ignores it, and so does mpprof for a script that is not executable,
 *  which keeps --python's default (python3 from PATH) for the scripts
 *  it always ran.  A .py whose #! line names another program is still
 *  Python source to Python. */
static s_form_t
s_by_content(const char *path, const s_head_t *h)
{
    size_t len = strlen(path);
    switch (h->kind) {
    case S_ELF:
        return S_FORM_NOT_PYTHON;
    case S_SHEBANG:
        return len > 3 && strcmp(path + len - 3, ".py") == 0
                   ? S_FORM_SCRIPT
                   : S_FORM_NOT_PYTHON;
    case S_PY_SHEBANG:
        return access(path, X_OK) == 0 ? S_FORM_SHEBANG : S_FORM_SCRIPT;
    default:
        return S_FORM_SCRIPT;
    }
}

/*  What the first word `w` is.  A bare name is a file in the working
 *  directory first (what `mpprof run job.py` always meant; a Python
 *  script named python3 there wins too), then a program in PATH, as the
 *  shell would find it.  *found is then its path (malloc'd). */
static s_form_t
s_recognize(const char *w, char **found, s_head_t *h)
{
    bool pyname = mpp_runform_is_pyname(s_base(w));
    *found = NULL;
    if (strchr(w, '/') == NULL) {
        s_read_head(w, h);
        if (h->kind != S_MISSING &&
            (!pyname || h->kind == S_PLAIN || h->kind == S_PY_SHEBANG)) {
            return s_by_content(w, h);
        }
        if (mpp_find_program(w, found) != 0) {
            /* The probe (an interpreter) or the script's check says why
             * the name cannot be run, in the words they always had. */
            return pyname ? S_FORM_INTERPRETER : S_FORM_SCRIPT;
        }
        if (pyname || s_names_python(*found)) {
            return S_FORM_INTERPRETER;
        }
        s_read_head(*found, h);
        return h->kind == S_PY_SHEBANG ? S_FORM_SHEBANG : S_FORM_NOT_PYTHON;
    }
    s_read_head(w, h);
    if (h->kind == S_MISSING) {
        return pyname ? S_FORM_INTERPRETER : S_FORM_SCRIPT;
    }
    /* A compiled interpreter, or a wrapper that execs one (pyenv's shim
     * is a bash script); the probe sees through the wrapper. */
    if ((h->kind == S_ELF || h->kind == S_SHEBANG) && s_names_python(w)) {
        return S_FORM_INTERPRETER;
    }
    return s_by_content(w, h);
}

/* ---- the interpreter's options ---------------------------------------- */

/* Appends a copy of the first `len` bytes of `s` (0: all) to f->pyopts. */
static int
s_push(mpp_runform_t *f, const char *s, size_t len)
{
    char **grown = realloc(f->pyopts, (f->npyopts + 2) * sizeof(*grown));
    if (grown == NULL) {
        return MPP_ENOMEM;
    }
    f->pyopts = grown;
    if ((grown[f->npyopts] = strndup(s, len ? len : strlen(s))) == NULL) {
        return MPP_ENOMEM;
    }
    grown[++f->npyopts] = NULL;
    return 0;
}

/*  Why each refused option cannot work under mpprof.  The collector is
 *  started by pyshim's sitecustomize, which Python finds through
 *  PYTHONPATH and imports from the site module. */
static const struct {
    char opt;
    const char *why;
} s_refused[] = {
    {'E', "it ignores PYTHONPATH, which loads mpprof's collector"},
    {'I', "isolated mode ignores PYTHONPATH, which loads mpprof's "
          "collector"},
    {'S', "it skips the site module, which starts mpprof's collector"},
    {'i', "it would leave an interactive prompt after the program"},
    {'V', "it prints Python's version and runs no program to profile"},
    {'h', "it prints Python's help and runs no program to profile"},
    {'?', "it prints Python's help and runs no program to profile"},
};

static int
s_refuse_short(char c)
{
    for (size_t k = 0; k < MPP_ARRAY_SIZE(s_refused); k++) {
        if (s_refused[k].opt == c) {
            mpp_say("python option -%c is not supported under mpprof (%s)",
                    c, s_refused[k].why);
            return 2;
        }
    }
    mpp_say("unknown python option -%c", c);
    return 2;
}

static int
s_enomem(void)
{
    mpp_say("%s", mpp_strerror(MPP_ENOMEM));
    return 2;
}

/*  A long option at words[*i]: --check-hash-based-pycs and its value
 *  (next, or after '=') go on, --help and --version are refused, like
 *  any other.  Returns 0, or the exit status after one line. */
static int
s_long_pyopt(mpp_runform_t *f, char **words, size_t n, size_t *i)
{
    static const char hash[] = "--check-hash-based-pycs";
    const char *w = words[*i];
    size_t k = sizeof(hash) - 1;
    bool joined = strncmp(w, hash, k) == 0 && w[k] == '=';
    if (joined || strcmp(w, hash) == 0) {
        if (!joined && *i + 1 >= n) {
            mpp_say("python option %s needs a value", w);
            return 2;
        }
        if (s_push(f, w, 0) != 0 ||
            (!joined && s_push(f, words[++*i], 0) != 0)) {
            return s_enomem();
        }
        return 0;
    }
    if (strcmp(w, "--version") == 0 || strncmp(w, "--help", 6) == 0) {
        mpp_say("python option %s is not supported under mpprof (it prints "
                "Python's %s and runs no program to profile)", w,
                w[2] == 'v' ? "version" : "help");
        return 2;
    }
    mpp_say("unknown python option %s", w);
    return 2;
}

/*  Takes the interpreter's options from words[*i..n) into f->pyopts, as
 *  CPython reads them: short flags may be combined (-uB), -W and -X take
 *  their value attached or as the next word, and -c or -m ends the
 *  options, its value attached or next.  Stops at the first word that is
 *  not an option (the script), after "--".  For -m and -c, f->kind is
 *  set and *value is the module or code.  Returns 0, or the exit status
 *  after one line. */
static int
s_take_pyopts(mpp_runform_t *f, char **words, size_t n, size_t *i,
              const char **value)
{
    for (; *i < n; (*i)++) {
        const char *w = words[*i];
        if (w[0] != '-') {
            return 0;
        }
        if (strcmp(w, "-") == 0) {
            mpp_say("python reading its program from standard input ('-') "
                    "is not supported under mpprof (the profile needs a "
                    "script, -m MODULE or -c CODE)");
            return 2;
        }
        if (strcmp(w, "--") == 0) {
            (*i)++;
            return 0;
        }
        if (w[1] == '-') {
            int status = s_long_pyopt(f, words, n, i);
            if (status != 0) {
                return status;
            }
            continue;
        }
        bool pushed = false;
        for (size_t j = 1; w[j] != '\0' && !pushed; j++) {
            char c = w[j];
            if (strchr("bBdOPqRsuvx", c) != NULL) {
                continue;
            }
            if (c == 'W' || c == 'X' || c == 'c' || c == 'm') {
                const char *v = w[j + 1] != '\0' ? w + j + 1 : NULL;
                if (v == NULL && *i + 1 >= n) {
                    mpp_say("python option -%c needs a value", c);
                    return 2;
                }
                if (c == 'W' || c == 'X') {
                    /* Passed on as written, with its value. */
                    if (s_push(f, w, 0) != 0 ||
                        (v == NULL && s_push(f, words[++*i], 0) != 0)) {
                        return s_enomem();
                    }
                    pushed = true;
                    continue;
                }
                /* The flags before it (-uc) go on; -c or -m is put by the
                 * command, as mpprof's own -m and -c do. */
                if (j > 1 && s_push(f, w, j) != 0) {
                    return s_enomem();
                }
                *value = v != NULL ? v : words[++*i];
                f->kind = c == 'c' ? MPP_TARGET_CODE : MPP_TARGET_MODULE;
                (*i)++;
                return 0;
            }
            return s_refuse_short(c);
        }
        if (!pushed && s_push(f, w, 0) != 0) {
            return s_enomem();
        }
    }
    return 0;
}

/* ---- the forms -------------------------------------------------------- */

/*  Stats `name` as found in PATH, saying in one line why it cannot be
 *  run.  Returns 0 or the exit status (127). */
static int
s_stat_program(const char *name, struct stat *st)
{
    char *path = NULL;
    int rc = mpp_find_program(name, &path);
    if (rc == 0 && stat(path, st) != 0) {
        rc = -errno;
    }
    free(path);
    if (rc != 0) {
        mpp_say("cannot run '%s': %s", name, mpp_strerror(rc));
        return 127;
    }
    return 0;
}

/*  The command: "-m"/"-c" and `value` when set, then words[from..n), or
 *  `first` in place of words[from] when it is not NULL. */
static int
s_set_command(mpp_runform_t *f, const char *value, char **words, size_t n,
              size_t from, const char *first)
{
    f->command = calloc(n - from + 3, sizeof(*f->command));
    if (f->command == NULL) {
        return s_enomem();
    }
    size_t k = 0;
    if (value != NULL) {
        f->command[k++] = f->kind == MPP_TARGET_CODE ? "-c" : "-m";
        f->command[k++] = (char *)value;
    }
    for (size_t j = from; j < n; j++) {
        f->command[k++] = words[j];
    }
    if (first != NULL) {
        f->command[0] = (char *)first;
    }
    f->ncommand = k;
    return 0;
}

/*  Whether two different files run one interpreter: a wrapper (pyenv's
 *  shim, a bash script) and the binary it execs, as the probe sees
 *  through them.  Only asked when the files differ, so the two probes
 *  cost nothing in the common case; a probe that fails says why in its
 *  one line and leaves its exit status in *status. */
static bool
s_same_probed(const char *a, const char *b, int *status)
{
    mpp_pyenv_t pa = {0}, pb = {0};
    struct stat sa, sb;
    *status = mpp_pyenv_probe(&pa, a);
    if (*status == 0) {
        *status = mpp_pyenv_probe(&pb, b);
    }
    bool same = *status == 0 && stat(pa.path, &sa) == 0 &&
                stat(pb.path, &sb) == 0 && sa.st_dev == sb.st_dev &&
                sa.st_ino == sb.st_ino;
    mpp_pyenv_fini(&pa);
    mpp_pyenv_fini(&pb);
    return same;
}

/*  `python3 [OPTS] (SCRIPT | -m MODULE | -c CODE) ARGS...`: the script
 *  after the options is a script, whatever its name, as for Python. */
static int
s_interpreter(mpp_runform_t *f, const char *python, char **words, size_t n)
{
    /* Said before the script's own check, which would blame the script.
     * --python and the word must be one interpreter after PATH and
     * symlinks: one file, whatever it is called. */
    struct stat st, py;
    int status = s_stat_program(words[0], &st);
    if (status == 0 && python != NULL) {
        status = s_stat_program(python, &py);
    }
    if (status != 0) {
        return status;
    }
    if (python != NULL &&
        (st.st_dev != py.st_dev || st.st_ino != py.st_ino) &&
        !s_same_probed(python, words[0], &status)) {
        if (status != 0) {
            return status; /* the probe said why, in one line */
        }
        mpp_say("--python '%s' and '%s' are two different interpreters: "
                "name one", python, words[0]);
        return 2;
    }
    if ((f->python = strdup(words[0])) == NULL) {
        return s_enomem();
    }
    size_t i = 1;
    const char *value = NULL;
    if ((status = s_take_pyopts(f, words, n, &i, &value)) != 0) {
        return status;
    }
    if (value == NULL && i >= n) {
        mpp_say("'%s' needs a script, -m MODULE or -c CODE under mpprof (an "
                "interactive Python is not profiled)", words[0]);
        return 2;
    }
    return s_set_command(f, value, words, n, i, NULL);
}

/*  A script run by the Python of its #! line, with the options there:
 *  the script's path as Python's argv[0], as the kernel gives it.
 *  --python, said explicitly, still chooses the interpreter. */
static int
s_shebang(mpp_runform_t *f, const char *python, s_head_t *h, char **words,
          size_t n, const char *path)
{
    char *opts[S_HEAD_MAX / 2 + 1];
    size_t nopts = 0, i = 0;
    const char *value = NULL;
    for (char *p = h->args; p != NULL && *p != '\0';) {
        if (!h->split) {
            opts[nopts++] = p;
            break;
        }
        opts[nopts++] = s_cut_word(&p);
    }
    int status = s_take_pyopts(f, opts, nopts, &i, &value);
    if (status != 0) {
        return status;
    }
    if (value != NULL || i < nopts) {
        mpp_say("the #! line of '%s' gives Python a program of its own, "
                "which mpprof cannot run", path);
        return 2;
    }
    if (python == NULL && (f->python = strdup(h->python)) == NULL) {
        return s_enomem();
    }
    return s_set_command(f, NULL, words, n, 0, path);
}

int
mpp_runform_parse(mpp_runform_t *f, const char *python, char **words,
                  size_t n)
{
    memset(f, 0, sizeof(*f));
    f->kind = MPP_TARGET_SCRIPT;
    s_head_t h;
    char *found = NULL;
    int status;
    switch (s_recognize(words[0], &found, &h)) {
    case S_FORM_INTERPRETER:
        status = s_interpreter(f, python, words, n);
        break;
    case S_FORM_SHEBANG:
        status = s_shebang(f, python, &h, words, n,
                           found != NULL ? found : words[0]);
        /* The command holds the found path: the form keeps it. */
        f->script = found;
        found = NULL;
        break;
    case S_FORM_NOT_PYTHON:
        mpp_say("'%s' is not a Python script or interpreter", words[0]);
        status = 2;
        break;
    default:
        status = s_set_command(f, NULL, words, n, 0, NULL);
        break;
    }
    free(found);
    return status;
}

void
mpp_runform_fini(mpp_runform_t *f)
{
    for (size_t k = 0; k < f->npyopts; k++) {
        free(f->pyopts[k]);
    }
    free(f->pyopts);
    free(f->command);
    free(f->python);
    free(f->script);
    memset(f, 0, sizeof(*f));
}
