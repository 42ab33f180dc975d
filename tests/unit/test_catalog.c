/*  The category catalog ties the collector and the report together: for
 *  every catalogued function, the collector's classification
 *  (mpp_cats_classify) and the report's (mpp_rep_root, mpp_rep_is_wrapper)
 *  must tell the same story, and both must be what the catalog says.  A
 *  table of category rules added to either side again fails here.
 */
#include "mpp_catalog.h"
#include "mpp_cats.h"
#include "mpp_report_priv.h"
#include "mpp_test.h"

#include <string.h>

/* Where Python functions are looked for: bare, and under two prefixes. */
static const char *const s_prefixes[] = {
    "",
    "/usr/lib/python3.11/",
    "/home/u/.pyenv/versions/3.12.1/lib/python3.12/",
};

/* The collector's category of a function, or -1. */
static int
s_collector_cat(const char *file, const char *name, uint8_t *tag,
                uint8_t *mark)
{
    mpp_cats_classify(file, name, tag, mark);
    return (int)(*tag & MPP_TAG_CAT) - 1;
}

/* The report's reading: the root's category, or -1; *wrapper. */
static int
s_report_cat(const char *file, const char *name, bool *wrapper)
{
    mpp_func_t f = {.file = (char *)file, .line = 1, .name = (char *)name};
    const mpp_rep_root_t *r = mpp_rep_root(&f);
    *wrapper = mpp_rep_is_wrapper(&f);
    return r ? r->cat : -1;
}

static uint8_t
s_expected_mark(mpp_phase_t phase)
{
    return phase == MPP_PHASE_RUNCODE     ? MPP_MARK_RUNCODE
           : phase == MPP_PHASE_BOOTSTRAP ? MPP_MARK_BOOTSTRAP
           : phase == MPP_PHASE_LAUNCH    ? MPP_MARK_LAUNCH
                                          : 0;
}

/* Checks one function against its entry, as both sides read it. */
static void
s_check(const mpp_catalog_entry_t *e, const char *file)
{
    uint8_t tag, mark;
    bool wrapper;
    int ccat = s_collector_cat(file, e->name, &tag, &mark);
    int rcat = s_report_cat(file, e->name, &wrapper);

    /* The two sides agree: a site root is in the collector's category. */
    if (rcat >= 0 && ccat != rcat) {
        MPP_FAIL("%s:%s: the report's root of category %d is category %d "
                 "in the collector", file, e->name, rcat, ccat);
    }
    /* ... and both follow the catalog. */
    if (ccat != e->cat) {
        MPP_FAIL("%s:%s: collector category %d, catalog %d", file, e->name,
                 ccat, e->cat);
    }
    if ((rcat >= 0) != (e->role == MPP_ROLE_ROOT)) {
        MPP_FAIL("%s:%s: report root %d, catalog role %d", file, e->name,
                 rcat, (int)e->role);
    }
    if (wrapper != (e->role == MPP_ROLE_WRAPPER)) {
        MPP_FAIL("%s:%s: report wrapper %d, catalog role %d", file, e->name,
                 (int)wrapper, (int)e->role);
    }
    bool ret = (tag & MPP_TAG_BYTES_RET) != 0;
    bool arg = (tag & MPP_TAG_BYTES_ARG) != 0;
    if (ret != (e->bytes == MPP_BYTES_RET) ||
        arg != (e->bytes == MPP_BYTES_ARG)) {
        MPP_FAIL("%s:%s: collector byte flags %#x, catalog %d", file, e->name,
                 (unsigned)tag, (int)e->bytes);
    }
    if (mark != s_expected_mark(e->phase) ||
        ((tag & MPP_TAG_MODULE) != 0) != (e->phase == MPP_PHASE_MODULE) ||
        ((tag & MPP_TAG_RUN) != 0) != (e->phase == MPP_PHASE_RUN)) {
        MPP_FAIL("%s:%s: collector mark %u tag %#x, catalog phase %d", file,
                 e->name, (unsigned)mark, (unsigned)tag, (int)e->phase);
    }
}

MPP_TEST(collector_and_report_agree)
{
    size_t n;
    const mpp_catalog_entry_t *all = mpp_catalog_entries(&n);
    ASSERT_GT(n, 40u);
    for (size_t i = 0; i < n; i++) {
        const mpp_catalog_entry_t *e = &all[i];
        char file[256];
        if (strcmp(e->file, "~") == 0) {
            s_check(e, "~");
            continue;
        }
        for (size_t k = 0; k < MPP_ARRAY_SIZE(s_prefixes); k++) {
            snprintf(file, sizeof(file), "%s%s", s_prefixes[k],
                     strcmp(e->file, MPP_CATALOG_ANY) == 0 ? "prog.py"
                                                           : e->file);
            s_check(e, file);
        }
    }
}

/* Every entry is reachable: no two entries name the same function, and
 * each has what its role needs. */
MPP_TEST(entries_well_formed)
{
    size_t n;
    const mpp_catalog_entry_t *all = mpp_catalog_entries(&n);
    for (size_t i = 0; i < n; i++) {
        const mpp_catalog_entry_t *e = &all[i];
        const char *file = strcmp(e->file, MPP_CATALOG_ANY) ? e->file : "x.py";
        if (mpp_catalog_find(file, e->name) != e) {
            MPP_FAIL("%s:%s is shadowed by an earlier entry", e->file,
                     e->name);
        }
        ASSERT(e->cat >= -1 && e->cat < MPP_CAT_COUNT);
        /* Start-up's one function is fork, a builtin that is a site. */
        ASSERT(e->cat != MPP_CAT_STARTUP ||
               (e->role == MPP_ROLE_ROOT && e->file[0] == '~'));
        switch (e->role) {
        case MPP_ROLE_ROOT:
            ASSERT(e->cat >= 0);
            ASSERT_NOT_NULL(e->label);
            ASSERT((e->lock != NULL) == (e->cat == MPP_CAT_LOCK_WAIT));
            break;
        case MPP_ROLE_OUTER:
            ASSERT(e->cat >= 0);
            break;
        case MPP_ROLE_WRAPPER:
            ASSERT(e->bytes == MPP_BYTES_NONE);
            break;
        case MPP_ROLE_MARK:
            ASSERT(e->cat < 0 && e->phase != MPP_PHASE_NONE);
            break;
        }
        ASSERT(e->role == MPP_ROLE_MARK || e->phase == MPP_PHASE_NONE);
        ASSERT(e->role == MPP_ROLE_ROOT || e->label == NULL);
    }
}

/*  The reconciled entries and a few landmarks, spelled out: what the
 *  report's numbers in the other tests rely on. */
MPP_TEST(reconciled_semantics)
{
    static const struct {
        const char *file, *name;
        int ccat;     /* collector */
        int rcat;     /* report root, or -1 */
        bool wrapper; /* report */
    } cases[] = {
        /* wait wrappers: waiting for the collector, plumbing for sites */
        {"/usr/lib/python3.11/multiprocessing/queues.py", "get",
         MPP_CAT_LOCK_WAIT, -1, true},
        {"/usr/lib/python3.11/multiprocessing/connection.py", "_poll",
         MPP_CAT_IPC_WAIT, -1, true},
        /* outer waits: waiting, and the caller of the sites beneath */
        {"/usr/lib/python3.11/queue.py", "get", MPP_CAT_LOCK_WAIT, -1, false},
        {"/usr/lib/python3.11/multiprocessing/synchronize.py", "wait",
         MPP_CAT_LOCK_WAIT, -1, false},
        {"/usr/lib/python3.11/multiprocessing/reduction.py", "dump",
         MPP_CAT_PICKLE, -1, false},
        /* roots */
        {"/usr/lib/python3.11/multiprocessing/reduction.py", "dumps",
         MPP_CAT_PICKLE, MPP_CAT_PICKLE, false},
        {"/usr/lib/python3.11/threading.py", "wait", MPP_CAT_LOCK_WAIT,
         MPP_CAT_LOCK_WAIT, false},
        {"~", "<method 'acquire' of '_multiprocessing.SemLock' objects>",
         MPP_CAT_LOCK_WAIT, MPP_CAT_LOCK_WAIT, false},
        {"/usr/lib/python3.11/multiprocessing/connection.py", "poll",
         MPP_CAT_IPC_WAIT, MPP_CAT_IPC_WAIT, false},
        /* plain plumbing */
        {"/usr/lib/python3.11/multiprocessing/connection.py", "send", -1, -1,
         true},
        {"/usr/lib/python3.11/multiprocessing/pool.py", "get", -1, -1, true},
        /* not catalogued: a path suffix must end at a '/', a builtin's
         * label must be exact, a Python name is not a builtin's */
        {"/x/notmultiprocessing/queues.py", "get", -1, -1, false},
        {"/home/u/queues.py", "get", -1, -1, false},
        {"~", "get", -1, -1, false},
        {"~", "<built-in method _pickle.dumps >", -1, -1, false},
        {"~", "wait", -1, -1, false},
        {"/home/u/app.py", "<built-in method _pickle.dumps>", -1, -1, false},
        {"/home/u/app.py", "work", -1, -1, false},
    };
    for (size_t i = 0; i < MPP_ARRAY_SIZE(cases); i++) {
        uint8_t tag, mark;
        bool wrapper;
        int ccat = s_collector_cat(cases[i].file, cases[i].name, &tag, &mark);
        int rcat = s_report_cat(cases[i].file, cases[i].name, &wrapper);
        if (ccat != cases[i].ccat || rcat != cases[i].rcat ||
            wrapper != cases[i].wrapper) {
            MPP_FAIL("%s:%s: collector %d report %d wrapper %d, expected "
                     "%d %d %d", cases[i].file, cases[i].name, ccat, rcat,
                     (int)wrapper, cases[i].ccat, cases[i].rcat,
                     (int)cases[i].wrapper);
        }
    }
    /* Phase marks: start-up ends at any <module> and any run(), but not
     * in a C function. */
    uint8_t tag, mark;
    mpp_cats_classify("/home/u/app.py", "<module>", &tag, &mark);
    ASSERT_EQ(tag, MPP_TAG_MODULE);
    mpp_cats_classify("/home/u/app.py", "run", &tag, &mark);
    ASSERT_EQ(tag, MPP_TAG_RUN);
    mpp_cats_classify("~", "run", &tag, &mark);
    ASSERT_EQ(tag, 0);
    mpp_cats_classify("<frozen runpy>", "_run_code", &tag, &mark);
    ASSERT_EQ(mark, MPP_MARK_RUNCODE);
    mpp_cats_classify("/usr/lib/python3.11/multiprocessing/process.py",
                      "_bootstrap", &tag, &mark);
    ASSERT_EQ(mark, MPP_MARK_BOOTSTRAP);
}

/* One table of category names: the model's wire names and the
 * compare document's part names are the catalog's. */
MPP_TEST(category_names)
{
    static const char *const names[MPP_CAT_COUNT] = {
        "pickle", "unpickle", "lock_wait", "ipc_wait", "startup",
    };
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        const mpp_catname_t *cn = mpp_catalog_cat(c);
        ASSERT_STREQ(cn->name, names[c]);
        ASSERT_STREQ(mpp_cat_name((mpp_cat_t)c), cn->name);
        ASSERT_STREQ(mpp_lost_name((mpp_lost_t)c), cn->name);
        ASSERT(strlen(cn->head) <= 8);
    }
    ASSERT_STREQ(mpp_catalog_cat(MPP_CAT_LOCK_WAIT)->title, "lock wait");
    ASSERT_STREQ(mpp_catalog_cat(MPP_CAT_PICKLE)->title, "pickling");
    ASSERT_STREQ(mpp_catalog_cat(-1)->name, "?");
    ASSERT_STREQ(mpp_catalog_cat(MPP_CAT_COUNT)->title, "?");
    ASSERT_STREQ(mpp_lost_name(MPP_LOST_IMBALANCE), "imbalance");
    ASSERT_STREQ(mpp_lost_name(MPP_LOST_OTHER), "other");
}

int
main(int argc, char **argv)
{
    MPP_RUN(collector_and_report_agree);
    MPP_RUN(entries_well_formed);
    MPP_RUN(reconciled_semantics);
    MPP_RUN(category_names);
    return mpp_test_done(argc, argv);
}
