/*  Introspection for tests and debugging: this process's profile so far
 *  as cProfile shapes it (snapshot), and the core's counters. */
#include "mpp_module.h"

#include <string.h>

/* Rows of the snapshot: functions merged by (file, line, name). */
typedef struct {
    const mpp_clock_t *clock; /* converts the tables' ticks */
    PyObject *keys;           /* list: row -> key tuple */
    PyObject *row_of;         /* dict: key tuple -> row */
    Py_ssize_t *fid_row;      /* function id -> row, -1 until seen */
    mpp_cost_t *cost;         /* row -> cost */
    size_t capcost;
    PyObject *edges; /* dict: (callee row, caller row) -> cost index */
    mpp_cost_t *ecost;
    size_t capecost;
} s_snap_t;

static Py_ssize_t
s_snap_row(s_snap_t *snap, const mpp_funcs_t *funcs, uint32_t fid)
{
    if (snap->fid_row[fid] >= 0) {
        return snap->fid_row[fid];
    }
    mpp_wfunc_t def;
    mpp_funcs_get(funcs, fid, &def);
    PyObject *key = Py_BuildValue("(sis)", def.file, (int)def.line, def.name);
    if (key == NULL) {
        return -1;
    }
    Py_ssize_t row;
    PyObject *known = PyDict_GetItemWithError(snap->row_of, key);
    if (known != NULL) {
        row = PyLong_AsSsize_t(known);
    }
    else if (PyErr_Occurred()) {
        row = -1;
    }
    else {
        row = PyList_GET_SIZE(snap->keys);
        PyObject *value = PyLong_FromSsize_t(row);
        if (value == NULL || PyDict_SetItem(snap->row_of, key, value) < 0 ||
            PyList_Append(snap->keys, key) < 0 ||
            mpp_grow((void **)&snap->cost, &snap->capcost, (size_t)row + 1,
                     sizeof(*snap->cost)) < 0) {
            row = -1;
        }
        else {
            memset(&snap->cost[row], 0, sizeof(*snap->cost));
        }
        Py_XDECREF(value);
    }
    Py_DECREF(key);
    snap->fid_row[fid] = row;
    return row;
}

static int
s_snap_edge(s_snap_t *snap, Py_ssize_t callee, Py_ssize_t caller,
            const mpp_cost_t *cost)
{
    PyObject *key = Py_BuildValue("(nn)", callee, caller);
    if (key == NULL) {
        return -1;
    }
    Py_ssize_t ix = -1;
    PyObject *known = PyDict_GetItemWithError(snap->edges, key);
    if (known != NULL) {
        ix = PyLong_AsSsize_t(known);
    }
    else if (!PyErr_Occurred()) {
        ix = PyDict_GET_SIZE(snap->edges);
        PyObject *value = PyLong_FromSsize_t(ix);
        if (value == NULL || PyDict_SetItem(snap->edges, key, value) < 0 ||
            mpp_grow((void **)&snap->ecost, &snap->capecost, (size_t)ix + 1,
                     sizeof(*snap->ecost)) < 0) {
            ix = -1;
        }
        else {
            memset(&snap->ecost[ix], 0, sizeof(*snap->ecost));
        }
        Py_XDECREF(value);
    }
    Py_DECREF(key);
    if (ix < 0) {
        return -1;
    }
    mpp_cost_add(&snap->ecost[ix], cost);
    return 0;
}

static double
s_seconds(const s_snap_t *snap, int64_t ticks)
{
    return (double)mpp_clock_ns(snap->clock, ticks) / 1e9;
}

static PyObject *
s_snap_build(s_snap_t *snap)
{
    Py_ssize_t nrows = PyList_GET_SIZE(snap->keys);
    PyObject *result = PyDict_New();
    PyObject *callers = PyList_New(nrows);
    if (result == NULL || callers == NULL) {
        goto fail;
    }
    for (Py_ssize_t r = 0; r < nrows; r++) {
        PyObject *d = PyDict_New();
        if (d == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(callers, r, d);
    }
    /* pstats keeps callers as {caller: (nc, cc, tt, ct)}: total calls
     * first, unlike the function's own (cc, nc, tt, ct). */
    Py_ssize_t pos = 0;
    PyObject *key;
    PyObject *value;
    while (PyDict_Next(snap->edges, &pos, &key, &value)) {
        Py_ssize_t callee = PyLong_AsSsize_t(PyTuple_GET_ITEM(key, 0));
        Py_ssize_t caller = PyLong_AsSsize_t(PyTuple_GET_ITEM(key, 1));
        const mpp_cost_t *c = &snap->ecost[PyLong_AsSsize_t(value)];
        PyObject *t = Py_BuildValue("(KKdd)", (unsigned long long)c->ncalls,
                                    (unsigned long long)c->pcalls,
                                    s_seconds(snap, c->tt_ns),
                                    s_seconds(snap, c->ct_ns));
        if (t == NULL ||
            PyDict_SetItem(PyList_GET_ITEM(callers, callee),
                           PyList_GET_ITEM(snap->keys, caller), t) < 0) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    for (Py_ssize_t r = 0; r < nrows; r++) {
        const mpp_cost_t *c = &snap->cost[r];
        PyObject *t = Py_BuildValue(
            "(KKddO)", (unsigned long long)c->pcalls,
            (unsigned long long)c->ncalls, s_seconds(snap, c->tt_ns),
            s_seconds(snap, c->ct_ns), PyList_GET_ITEM(callers, r));
        if (t == NULL ||
            PyDict_SetItem(result, PyList_GET_ITEM(snap->keys, r), t) < 0) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    Py_DECREF(callers);
    return result;

fail:
    Py_XDECREF(callers);
    Py_XDECREF(result);
    return NULL;
}

MPP_DOC(
    mpp_mod_snapshot_doc,
    "snapshot()\n--\n\n"
    "This process's profile so far, all threads merged, shaped like\n"
    "cProfile's stats: {(file, line, name): (cc, nc, tt, ct, callers)}.\n"
    "Frames still running are counted as calls but their time is not in yet.");

PyObject *
mpp_mod_snapshot(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = mpp_mod_core(module);
    if (core == NULL) {
        return PyDict_New();
    }
    mpp_core_hot_t *h = mpp_core_hot(core);
    uint32_t nfuncs = mpp_funcs_count(h->funcs);
    mpp_clock_calibrate(&h->clock);
    s_snap_t snap = {
        .clock = &h->clock,
        .keys = PyList_New(0),
        .row_of = PyDict_New(),
        .fid_row = PyMem_Malloc(((size_t)nfuncs + 1) * sizeof(Py_ssize_t)),
        .edges = PyDict_New(),
    };
    PyObject *result = NULL;
    if (snap.keys == NULL || snap.row_of == NULL || snap.fid_row == NULL ||
        snap.edges == NULL) {
        goto done;
    }
    for (uint32_t i = 0; i < nfuncs; i++) {
        snap.fid_row[i] = -1;
    }
    const mpp_tstate_t *t;
    for (size_t i = 0; (t = mpp_core_table(core, i)) != NULL; i++) {
        for (uint32_t j = 0; j < t->nstats; j++) {
            Py_ssize_t r = s_snap_row(&snap, h->funcs, t->stats[j].fid);
            if (r < 0) {
                goto done;
            }
            mpp_cost_add(&snap.cost[r], &t->stats[j].cost);
        }
        for (uint32_t j = 0; j < t->nedges; j++) {
            const mpp_ts_edge_t *e = &t->edges[j];
            Py_ssize_t caller =
                s_snap_row(&snap, h->funcs, t->stats[e->caller - 1].fid);
            Py_ssize_t callee =
                s_snap_row(&snap, h->funcs, t->stats[e->callee - 1].fid);
            if (caller < 0 || callee < 0 ||
                s_snap_edge(&snap, callee, caller, &e->cost) < 0) {
                goto done;
            }
        }
    }
    result = s_snap_build(&snap);

done:
    if (result == NULL && !PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    Py_XDECREF(snap.keys);
    Py_XDECREF(snap.row_of);
    Py_XDECREF(snap.edges);
    PyMem_Free(snap.fid_row);
    free(snap.cost);
    free(snap.ecost);
    return result;
}

MPP_DOC(mpp_mod_mem_usage_doc, "mem_usage()\n--\n\n"
                               "Bytes of memory the collector's tables hold.");

PyObject *
mpp_mod_mem_usage(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = mpp_mod_core(module);
    return PyLong_FromSize_t(core != NULL ? mpp_core_mem(core) : 0);
}

MPP_DOC(mpp_mod_info_doc,
        "info()\n--\n\n"
        "The collector's own counters, for tests and debugging; `backend`\n"
        "says which one feeds it (\"monitoring\": sys.monitoring, with its\n"
        "`tool_id`; \"hook\": the profile hook, tool_id -1).");

/* The sink's count, when there is a sink (the socket transport). */
static uint64_t
s_encode_failures(const mpp_modstate_t *st)
{
    const char *why = NULL;
    const mpp_zsink_api_t *zs =
        st->zsink != NULL ? mpp_zsink_load(&why) : NULL;
    return zs != NULL ? zs->encode_failures(st->zsink) : 0;
}

PyObject *
mpp_mod_info(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_modstate_t *st = mpp_mod_state(module);
    mpp_core_t *core = mpp_mod_core(module);
    if (core == NULL) {
        return PyDict_New();
    }
    mpp_core_info_t info;
    mpp_core_info(core, &info);
    mpp_clock_kind_t kind = mpp_core_hot(core)->clock.kind;
    return Py_BuildValue(
        "{s:L,s:L,s:s,s:s,s:K,s:K,s:K,s:K,s:K,s:I,s:n,s:s,s:O,s:s,s:i}", "pid",
        (long long)info.pid, "ppid", (long long)info.ppid, "start_method",
        info.start_method, "name", info.name, "seq",
        (unsigned long long)info.seq, "messages",
        (unsigned long long)info.messages, "send_failures",
        (unsigned long long)info.send_failures, "encode_failures",
        (unsigned long long)s_encode_failures(st), "dropped",
        (unsigned long long)info.dropped, "functions",
        (unsigned int)info.functions, "threads", (Py_ssize_t)info.threads,
        "clock",
        kind == MPP_CLOCK_TSC    ? "tsc"
        : kind == MPP_CLOCK_TEST ? "test"
                                 : "mono",
        "done", info.done ? Py_True : Py_False, "backend",
        mpp_monitor_active() ? "monitoring" : "hook", "tool_id",
        mpp_monitor_tool());
}
