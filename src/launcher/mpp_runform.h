/*  Private header of mpp_runform.c: what `mpprof run` makes of the words
 *  that follow its own options.  People compose mpprof with launchers
 *  (`mpirun -n 4 mpprof run python3 job.py`, `srun mpprof run dask-worker
 *  ...`), so besides SCRIPT, -m MODULE and -c CODE the words may start
 *  with an interpreter and its options, or name a console script whose
 *  #! line is a Python's.
 */
#ifndef MPP_RUNFORM_H
#define MPP_RUNFORM_H

#include "mpp_launcher.h"

typedef struct {
    /* The interpreter the words name (an interpreter word, or a script's
     * #! line), or NULL when they name none: then --python or python3. */
    char *python;
    /* Options for the interpreter, put before the program. */
    char **pyopts;
    size_t npyopts;
    mpp_target_kind_t kind;
    /* As mpp_run_opts_t.command: the script (its path when it was found
     * in PATH) and its arguments, or "-m"/"-c", the value and the
     * arguments.  Owned. */
    char **command;
    size_t ncommand;
    char *script; /* the console script's path found in PATH, or NULL */
} mpp_runform_t;

/*  Recognizes the form of words[0..n) (n > 0): an interpreter word with
 *  its options and program, a console script with a Python #! line, or a
 *  script as before.  `python` is --python's value, or NULL.  Prints one
 *  line and returns the exit status to use (2, or 127 when --python
 *  cannot be found) when the form is refused; 0 with *f filled, to be
 *  released by mpp_runform_fini. */
int mpp_runform_parse(mpp_runform_t *f, const char *python, char **words,
                      size_t n);
void mpp_runform_fini(mpp_runform_t *f);

/*  Whether `base` is an interpreter's name: python, python3, python3.N,
 *  with t, d and m suffixes and -dbg. */
bool mpp_runform_is_pyname(const char *base);

#endif
