/*  The agent's mapping reader (src/agent/mpp_shmread.h): a collector core
 *  with its tables in a shared mapping and the test clock, read back from
 *  its file into wire messages, which must carry exactly what the core's
 *  own sink sent; changes only; open frames closed at a known time of
 *  death; the process's own exit record; a fork child's file; and files
 *  damaged at every byte, which must give errors or messages, never a
 *  crash (run it under MPPROF_SANITIZE too). */
#include "shmread_fixture.h"

MPP_TEST(same_numbers_as_the_core_sends_then_only_changes)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "p.py", "g");
    s_call(core, t, f);
    for (int i = 0; i < 2; i++) {
        s_call(core, t, g);
        s_ret(core, t);
    }
    s_ret(core, t);
    ASSERT_EQ(mpp_core_flush(core), 0);
    const mpp_msg_t *sent = s_last(MPP_MSG_DATA);

    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    ASSERT_NOT_NULL(r);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_read(r, msg), 2u);
    ASSERT_EQ(msg[0].type, (uint32_t)MPP_MSG_HELLO);
    ASSERT_EQ(msg[0].seq, 0u);
    ASSERT_EQ(msg[0].pid, (int64_t)getpid());
    ASSERT_EQ(msg[0].ppid, 1);
    ASSERT_STREQ(msg[0].start_method, "main");
    ASSERT_STREQ(msg[0].python, "3.11.7");
    ASSERT_STREQ(msg[0].name, "MainProcess");
    ASSERT_EQ(msg[0].argc, 2u);
    ASSERT_STREQ(msg[0].argv[1], "t.py");
    ASSERT_EQ(msg[1].type, (uint32_t)MPP_MSG_DATA);
    ASSERT_EQ(msg[1].seq, 1u);
    ASSERT_EQ(msg[1].nfuncs, 2u);
    ASSERT_EQ(msg[1].nthreads, 1u);
    ASSERT_EQ(msg[1].threads[0].tid, t->tid);
    ASSERT_STREQ(msg[1].threads[0].name, "MainThread");
    /* g: 2 calls of one step each; f: 5 steps, 3 of them its own. */
    const mpp_wstat_t *sg = s_wstat(&msg[1], g);
    const mpp_wstat_t *sf = s_wstat(&msg[1], f);
    ASSERT_NOT_NULL(sg);
    ASSERT_NOT_NULL(sf);
    ASSERT_EQ(sg->cost.ncalls, 2u);
    ASSERT_EQ(sg->cost.pcalls, 2u);
    ASSERT_EQ(sg->cost.tt_ns, 2 * STEP);
    ASSERT_EQ(sg->cost.ct_ns, 2 * STEP);
    ASSERT_EQ(sf->cost.ncalls, 1u);
    ASSERT_EQ(sf->cost.tt_ns, 3 * STEP);
    ASSERT_EQ(sf->cost.ct_ns, 5 * STEP);
    /* Exactly what the core's own sink carried. */
    s_cost_eq(&sg->cost, &s_wstat(sent, g)->cost);
    s_cost_eq(&sf->cost, &s_wstat(sent, f)->cost);
    ASSERT_NOT_NULL(s_wedge(&msg[1], f, g));
    s_cost_eq(&s_wedge(&msg[1], f, g)->cost, &s_wedge(sent, f, g)->cost);
    s_clear(msg, 2);

    /* Nothing changed: nothing to send. */
    ASSERT_EQ(s_read(r, msg), 0u);
    /* One call of g: only g's entry, and no definitions again. */
    s_call(core, t, g);
    s_ret(core, t);
    ASSERT_EQ(s_read(r, msg), 1u);
    ASSERT_EQ(msg[0].seq, 2u);
    ASSERT_EQ(msg[0].nfuncs, 0u);
    ASSERT_EQ(s_nstats(&msg[0]), 1u);
    ASSERT_EQ(s_wstat(&msg[0], g)->cost.ncalls, 3u);
    ASSERT_EQ(msg[0].threads[0].nedges, 0u);
    s_clear(msg, 1);
    ASSERT_EQ(mpp_shmread_corrupt(r), 0u);
    mpp_shmread_destroy(&r);
    ASSERT_NULL(r);
    s_teardown(&core);
}

MPP_TEST(final_read_closes_open_frames_at_the_time_of_death)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "p.py", "g");
    int64_t t0f = mpp_clock_peek(&mpp_core_hot(core)->clock) + STEP;
    s_call(core, t, f);
    s_call(core, t, g);
    int64_t t0g = t0f + STEP;
    int64_t now = t0f + 10 * STEP;

    size_t len;
    unsigned char *b = s_bytes(getpid(), false, &len);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    ASSERT_EQ(mpp_shmread_final(r, b, len, now, MPP_EXIT_SIGNAL, 9, &out), 0);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_decode(&out, msg), 3u);
    ASSERT_EQ(msg[2].type, (uint32_t)MPP_MSG_BYE);
    ASSERT_EQ(msg[2].seq, 2u);
    ASSERT_EQ(msg[2].exit_kind, (uint32_t)MPP_EXIT_SIGNAL);
    ASSERT_EQ(msg[2].exit_code, 9);
    const mpp_wstat_t *sf = s_wstat(&msg[1], f);
    const mpp_wstat_t *sg = s_wstat(&msg[1], g);
    ASSERT_EQ(sf->cost.ncalls, 1u);
    ASSERT_EQ(sf->cost.ct_ns, now - t0f);
    ASSERT_EQ(sf->cost.tt_ns, (now - t0f) - (now - t0g));
    ASSERT_EQ(sg->cost.ct_ns, now - t0g);
    ASSERT_EQ(sg->cost.tt_ns, now - t0g);
    ASSERT_EQ(s_wedge(&msg[1], f, g)->cost.ct_ns, now - t0g);
    s_clear(msg, 3);
    ASSERT(mpp_shmread_done(r));
    /* The file itself is untouched: the frames are still open there. */
    ASSERT_EQ(t->depth, 2u);
    mpp_shmread_out_reset(&out);
    ASSERT_EQ(mpp_shmread_read(r, b, len, &out), 0);
    ASSERT_EQ(out.n, 0u);
    mpp_shmread_out_fini(&out);
    mpp_shmread_destroy(&r);
    free(b);
    s_ret(core, t);
    s_ret(core, t);
    s_teardown(&core);
}

MPP_TEST(exit_record_gives_bye_and_odd_gen_means_again)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t g = s_fn(core, "p.py", "g");
    s_call(core, t, g);
    s_ret(core, t);
    mpp_core_finish(core, MPP_EXIT_CODE, 5);

    size_t len;
    unsigned char *b = s_bytes(getpid(), true, &len);
    mpp_shm_hdr_t hdr;
    memcpy(&hdr, b, sizeof(hdr));
    uint64_t off;
    ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, sizeof(uint32_t), &off), 0);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    /* Mid-update: a live read is refused, with nothing consumed. */
    b[off] ^= 1;
    ASSERT_EQ(mpp_shmread_read(r, b, len, &out), -EAGAIN);
    ASSERT_EQ(out.n, 0u);
    b[off] ^= 1;
    ASSERT_EQ(mpp_shmread_read(r, b, len, &out), 0);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_decode(&out, msg), 3u);
    ASSERT_EQ(msg[0].seq, 0u);
    ASSERT_EQ(s_wstat(&msg[1], g)->cost.ncalls, 1u);
    ASSERT_EQ(msg[2].type, (uint32_t)MPP_MSG_BYE);
    ASSERT_EQ(msg[2].exit_kind, (uint32_t)MPP_EXIT_CODE);
    ASSERT_EQ(msg[2].exit_code, 5);
    s_clear(msg, 3);
    ASSERT(mpp_shmread_done(r));
    mpp_shmread_out_reset(&out);
    ASSERT_EQ(mpp_shmread_read(r, b, len, &out), 0);
    ASSERT_EQ(out.n, 0u);
    mpp_shmread_out_fini(&out);
    mpp_shmread_destroy(&r);
    free(b);
    s_teardown(&core);
}

MPP_TEST(fork_child_file_is_read_on_its_own)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "p.py", "g");
    for (int i = 0; i < 3; i++) {
        s_call(core, t, g);
        s_ret(core, t);
    }
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        mpp_core_note_fork(core);
        mpp_core_after_fork(core, t);
        s_call(core, t, f);
        s_ret(core, t);
        _exit(0);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    size_t len;
    unsigned char *b = s_bytes(pid, false, &len);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    ASSERT_EQ(mpp_shmread_final(r, b, len, 0, MPP_EXIT_LOST, 0, &out), 0);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_decode(&out, msg), 3u);
    ASSERT_EQ(msg[0].pid, (int64_t)pid);
    ASSERT_EQ(msg[0].ppid, (int64_t)getpid());
    ASSERT_STREQ(msg[0].start_method, "fork");
    ASSERT_EQ(s_wstat(&msg[1], f)->cost.ncalls, 1u);
    ASSERT_NULL(s_wstat(&msg[1], g)); /* the parent's counts stay there */
    s_clear(msg, 3);
    mpp_shmread_out_fini(&out);
    mpp_shmread_destroy(&r);
    free(b);
    /* The parent's own file still has g three times and no f. */
    mpp_shmread_t *rp = mpp_shmread_new(TOKEN);
    ASSERT_EQ(s_read(rp, msg), 2u);
    ASSERT_EQ(s_wstat(&msg[1], g)->cost.ncalls, 3u);
    ASSERT_NULL(s_wstat(&msg[1], f));
    s_clear(msg, 2);
    mpp_shmread_destroy(&rp);
    char path[4096];
    DIR *d = opendir(s_dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == 'p') {
            snprintf(path, sizeof(path), "%s/%s", s_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    s_teardown(&core);
}

MPP_TEST(spans_and_categories_as_the_core_sends_them_spans_once)
{
    s_setup();
    s_span_min_us = 1;
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t work = s_fn(core, "p.py", "work");
    uint32_t acq =
        s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    s_call(core, t, work);
    s_call(core, t, acq); /* lock wait: 3 steps */
    s_call(core, t, acq);
    s_ret(core, t);
    s_ret(core, t);
    s_ret(core, t);

    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_read(r, msg), 2u);
    ASSERT_EQ(mpp_core_flush(core), 0);
    const mpp_msg_t *sent = s_last(MPP_MSG_DATA);
    ASSERT_EQ(msg[1].nspans, 1u);
    ASSERT_EQ(sent->nspans, msg[1].nspans);
    ASSERT_EQ(msg[1].spans[0].cat, (uint32_t)MPP_CAT_LOCK_WAIT);
    ASSERT_EQ(msg[1].spans[0].fid, work);
    ASSERT_EQ(msg[1].spans[0].tid, t->tid);
    ASSERT_EQ(msg[1].spans[0].dur_ns, 3 * STEP);
    ASSERT_EQ(msg[1].spans[0].dur_ns, sent->spans[0].dur_ns);
    const mpp_catval_t *mine = &msg[1].threads[0].cat[MPP_CAT_LOCK_WAIT];
    const mpp_catval_t *core_cat = &sent->threads[0].cat[MPP_CAT_LOCK_WAIT];
    ASSERT_EQ(mine->ns, 3 * STEP);
    ASSERT_EQ(mine->count, 1u);
    ASSERT_EQ(mine->ns, core_cat->ns);
    ASSERT_EQ(mine->count, core_cat->count);
    s_cost_eq(&s_wstat(&msg[1], acq)->cost, &s_wstat(sent, acq)->cost);
    s_clear(msg, 2);
    /* Sent once: the next read has no spans and no stats (the core's
     * batch moved the root's clock, so start-up, still running, may have
     * grown). */
    size_t n = s_read(r, msg);
    ASSERT_LE(n, 1u);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(msg[i].nspans, 0u);
        ASSERT_EQ(s_nstats(&msg[i]), 0u);
    }
    s_clear(msg, n);

    /* A wait running at death: its interval ends then, as a span. */
    s_call(core, t, work);
    s_call(core, t, acq);
    int64_t t0 = mpp_clock_peek(&mpp_core_hot(core)->clock);
    size_t len;
    unsigned char *b = s_bytes(getpid(), false, &len);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    ASSERT_EQ(mpp_shmread_final(r, b, len, t0 + 7 * STEP, MPP_EXIT_SIGNAL,
                                15, &out),
              0);
    ASSERT_EQ(s_decode(&out, msg), 2u);
    /* And so does start-up, which never ended: its interval is all the
     * thread's time, the part the lock waits took included. */
    ASSERT_EQ(msg[0].nspans, 2u);
    ASSERT_EQ(msg[0].spans[0].cat, (uint32_t)MPP_CAT_LOCK_WAIT);
    ASSERT_EQ(msg[0].spans[0].dur_ns, 7 * STEP);
    ASSERT_EQ(msg[0].threads[0].cat[MPP_CAT_LOCK_WAIT].ns, 10 * STEP);
    ASSERT_EQ(msg[0].threads[0].cat[MPP_CAT_LOCK_WAIT].count, 2u);
    ASSERT_EQ(msg[0].spans[1].cat, (uint32_t)MPP_CAT_STARTUP);
    ASSERT_EQ(msg[0].spans[1].dur_ns,
              msg[0].threads[0].cat[MPP_CAT_STARTUP].ns + 10 * STEP);
    ASSERT_EQ(msg[1].exit_code, 15);
    s_clear(msg, 2);
    mpp_shmread_out_fini(&out);
    free(b);
    mpp_shmread_destroy(&r);
    s_ret(core, t);
    s_ret(core, t);
    s_span_min_us = 0;
    s_teardown(&core);
}

MPP_TEST(loader_copies_with_pread_and_says_truncated_or_again)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t g = s_fn(core, "p.py", "g");
    s_call(core, t, g);
    s_ret(core, t);
    size_t len;
    unsigned char *b = s_bytes(getpid(), true, &len);
    mpp_shm_hdr_t hdr;
    memcpy(&hdr, b, sizeof(hdr));
    ASSERT_EQ(len, (size_t)hdr.used);

    /* A copy of the file cut short (a hostile process, or a full disk):
     * the loader says so and hands over what is there, never mapped. */
    char path[128];
    snprintf(path, sizeof(path), "%s/cut", s_dir);
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fwrite(b, 1, len / 2, f), len / 2);
    fclose(f);
    unsigned char *cut;
    size_t cutlen;
    ASSERT_EQ(mpp_shmread_load(path, false, &cut, &cutlen), MPP_ETRUNC);
    ASSERT_EQ(cutlen, len / 2);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    (void)mpp_shmread_final(r, cut, cutlen, 0, MPP_EXIT_LOST, 0, &out);
    mpp_shmread_out_fini(&out);
    mpp_shmread_destroy(&r);
    free(cut);

    /* The root record mid-update: a live load is refused. */
    uint64_t off;
    ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, sizeof(uint32_t), &off), 0);
    b[off] ^= 1;
    f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fwrite(b, 1, len, f), len);
    fclose(f);
    ASSERT_EQ(mpp_shmread_load(path, true, &cut, &cutlen), -EAGAIN);
    ASSERT_NULL(cut);
    ASSERT_EQ(mpp_shmread_load(path, false, &cut, &cutlen), 0);
    free(cut);
    /* Not a mapping at all. */
    f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    fputs("hello", f);
    fclose(f);
    ASSERT_EQ(mpp_shmread_load(path, false, &cut, &cutlen), MPP_EFORMAT);
    unlink(path);
    free(b);
    s_teardown(&core);
}

/* Runs a fresh reader over damaged bytes, live and final. */
/*  A live copy is not one moment of the file.  Here the copy ends where
 *  the file ended before a new function was added, as a copy that read
 *  the size first and the registry later would: the registry counts the
 *  new definition, whose strings lie past the copy, or with `nlate`
 *  more functions before it, the registry's table itself was regrown
 *  past the copy.  The read leaves the definition and the counts that
 *  name it for the next read, which sends both.  Until then the thread
 *  that called it, which has ended, is not acknowledged: the writer
 *  keeps its table.  A final read of the same copy names the function
 *  "?", since a file that no longer changes is damaged where it does not
 *  read. */
static void
s_torn(uint32_t nlate)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    mpp_tstate_t *u = mpp_core_add_thread(core, 101, "U");
    uint32_t f = s_fn(core, "p.py", "f");
    s_call(core, t, f);
    s_ret(core, t);
    s_call(core, u, f);
    s_ret(core, u);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_read(r, msg), 2u);
    s_clear(msg, 2);
    size_t before;
    free(s_bytes(getpid(), true, &before));

    for (uint32_t i = 0; i < nlate; i++) {
        char name[32];
        snprintf(name, sizeof(name), "late%u", i);
        s_fn(core, "many.py", name);
    }
    uint32_t g = s_fn(core, "a_module_added_late.py", "added_late");
    s_call(core, u, g);
    s_ret(core, u);
    mpp_core_release_thread(core, u);
    int fd = s_ack_fd();
    size_t len;
    unsigned char *b = s_bytes(getpid(), true, &len);
    ASSERT(len > before);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    /* Torn: g's call counted, its definition not whole. */
    ASSERT_EQ(mpp_shmread_read(r, b, before, &out), 0);
    uint64_t torn = mpp_shmread_corrupt(r);
    ASSERT(nlate > 0 ? torn > 1 : torn == 1);
    size_t n = s_decode(&out, msg);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(msg[i].nfuncs, 0u);
        ASSERT_NULL(s_wstat(&msg[i], g));
    }
    s_clear(msg, n);
    ASSERT_EQ(mpp_shmread_ack(r, fd), 0);
    mpp_tstate_t *v = mpp_core_add_thread(core, 102, "V"); /* cold point */
    ASSERT_EQ(s_threads(core), 3u); /* main, U (kept), V */
    /* Whole: g's definition, by its names, and its call. */
    mpp_shmread_out_reset(&out);
    ASSERT_EQ(mpp_shmread_read(r, b, len, &out), 0);
    ASSERT_EQ(s_decode(&out, msg), 1u);
    ASSERT_EQ(msg[0].nfuncs, 1u);
    ASSERT_EQ(msg[0].funcs[0].fid, g);
    ASSERT_STREQ(msg[0].funcs[0].file, "a_module_added_late.py");
    ASSERT_STREQ(msg[0].funcs[0].name, "added_late");
    ASSERT_EQ(s_wstat(&msg[0], g)->cost.ncalls, 1u);
    s_clear(msg, 1);
    ASSERT_EQ(mpp_shmread_corrupt(r), torn);
    ASSERT_EQ(mpp_shmread_ack(r, fd), 0);
    mpp_core_release_thread(core, v);
    ASSERT_EQ(s_threads(core), 2u); /* U freed; V not yet read */
    close(fd);
    mpp_shmread_destroy(&r);
    if (nlate > 0) {
        mpp_shmread_out_fini(&out);
        free(b);
        s_teardown(&core);
        return;
    }

    /* Settled: the same torn bytes name g "?", and its call counts. */
    r = mpp_shmread_new(TOKEN);
    mpp_shmread_out_reset(&out);
    ASSERT_EQ(mpp_shmread_final(r, b, before, 1, MPP_EXIT_LOST, 0, &out), 0);
    n = s_decode(&out, msg);
    ASSERT_EQ(n, 3u);
    bool named = false;
    for (size_t i = 0; i < msg[1].nfuncs; i++) {
        if (msg[1].funcs[i].fid == g) {
            ASSERT_STREQ(msg[1].funcs[i].name, "?");
            named = true;
        }
    }
    ASSERT(named);
    ASSERT_EQ(s_wstat(&msg[1], g)->cost.ncalls, 1u);
    s_clear(msg, n);
    mpp_shmread_out_fini(&out);
    mpp_shmread_destroy(&r);
    free(b);
    s_teardown(&core);
}

MPP_TEST(torn_copy_leaves_a_definition_for_the_next_read)
{
    s_torn(0);
}

MPP_TEST(torn_copy_of_a_regrown_registry_is_read_again)
{
    s_torn(5000);
}

static void
s_try(const unsigned char *b, size_t len)
{
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    for (int final = 0; final < 2; final++) {
        mpp_shmread_t *r = mpp_shmread_new(TOKEN);
        ASSERT_NOT_NULL(r);
        int rc = final ? mpp_shmread_final(r, b, len, 123456, MPP_EXIT_LOST,
                                           0, &out)
                       : mpp_shmread_read(r, b, len, &out);
        for (size_t i = 0; rc == 0 && i < out.n; i++) {
            mpp_msg_t m;
            ASSERT_EQ(mpp_wire_decode(out.frame[i].data, out.frame[i].len,
                                      &m),
                      0);
            mpp_msg_clear(&m);
        }
        mpp_shmread_out_reset(&out);
        mpp_shmread_destroy(&r);
    }
    mpp_shmread_out_fini(&out);
}

MPP_TEST(damaged_files_give_errors_or_messages_never_a_crash)
{
    s_setup();
    s_span_min_us = 1;
    mpp_core_t *core = s_core("main");
    /* A thread CPU clock that reads (the seed then holds CPU times). */
    mpp_core_hot(core)->clock.fake_cpu = 12345;
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    s_call(core, t, f);
    s_call(core, t, g);
    s_call(core, t, f);
    s_ret(core, t);
    s_ret(core, t);
    s_call(core, t, g); /* open: a lock wait running */
    size_t len;
    unsigned char *b = s_bytes(getpid(), false, &len);
    s_try(b, len);
    /* MPP_SHMREAD_SEEDS=dir: this file is fuzz_shmread's seed (see
     * tests/fuzz/CMakeLists.txt). */
    const char *seeds = getenv("MPP_SHMREAD_SEEDS");
    if (seeds != NULL) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/open_frames.bin", seeds);
        FILE *sf = fopen(path, "wb");
        ASSERT_NOT_NULL(sf);
        ASSERT_EQ(fwrite(b, 1, len, sf), len);
        fclose(sf);
    }
    /* Every byte with a few values (the span buffer's wire copies, which
     * the reader never looks at, only sampled). */
    static const unsigned char vals[] = {0x00, 0xFF, 0x01, 0x80};
    for (size_t i = 0; i < len; i += (i < 16384 || i % 61 == 0) ? 1 : 7) {
        unsigned char keep = b[i];
        for (size_t v = 0; v < sizeof(vals); v++) {
            b[i] = vals[v];
            s_try(b, len);
        }
        b[i] = keep ^ 0x10;
        s_try(b, len);
        b[i] = keep;
    }
    /* Truncated anywhere. */
    for (size_t n = 0; n < len; n += n < 4096 ? 1 : 97) {
        unsigned char *cut = malloc(n + 1);
        memcpy(cut, b, n);
        s_try(cut, n);
        free(cut);
    }
    /* Words overwritten with addresses inside the file, and random. */
    mpp_shm_hdr_t hdr;
    memcpy(&hdr, b, sizeof(hdr));
    srand(12);
    for (int k = 0; k < 20000; k++) {
        /* In place, put back after: no copy of the file per try. */
        size_t at[4];
        uint64_t was[4];
        int nw = 1 + rand() % 4;
        for (int j = 0; j < nw; j++) {
            at[j] = ((size_t)rand() % (len / 8)) * 8;
            memcpy(&was[j], b + at[j], sizeof(was[j]));
            uint64_t v = rand() % 2 ? hdr.base + (uint64_t)rand() % len
                                    : ((uint64_t)rand() << 32) ^ (uint64_t)rand();
            memcpy(b + at[j], &v, sizeof(v));
        }
        s_try(b, len);
        for (int j = nw; j-- > 0;) {
            memcpy(b + at[j], &was[j], sizeof(was[j]));
        }
    }
    free(b);
    s_ret(core, t);
    s_ret(core, t);
    s_span_min_us = 0;
    s_teardown(&core);
}

int
main(int argc, char **argv)
{
    (void)s_stat; /* the fixture's helpers this file does not need */
    (void)s_edge;
    (void)s_wire_calls;
    (void)s_agent_ack;
    MPP_RUN(same_numbers_as_the_core_sends_then_only_changes);
    MPP_RUN(final_read_closes_open_frames_at_the_time_of_death);
    MPP_RUN(exit_record_gives_bye_and_odd_gen_means_again);
    MPP_RUN(fork_child_file_is_read_on_its_own);
    MPP_RUN(spans_and_categories_as_the_core_sends_them_spans_once);
    MPP_RUN(loader_copies_with_pread_and_says_truncated_or_again);
    MPP_RUN(torn_copy_leaves_a_definition_for_the_next_read);
    MPP_RUN(torn_copy_of_a_regrown_registry_is_read_again);
    MPP_RUN(damaged_files_give_errors_or_messages_never_a_crash);
    return mpp_test_done(argc, argv);
}
