/*  Writes the seed corpora of the fuzz targets:
 *
 *      gen_corpus DIR      creates DIR/wire/ and DIR/sessfile/ seeds
 *
 *  Seeds are small on purpose (libFuzzer mutates them best that way) and
 *  cover each message type and each part of the session file, plus a few
 *  broken inputs that take the decoders down their error paths.  The
 *  output is checked into tests/fuzz/corpus/; rerun this after a format
 *  change. */
#include "mpp_output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *s_dir;
static int s_failed;

static void
s_save(const char *sub, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", s_dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        s_failed = 1;
    }
}

/* Encodes m and saves it whole, and also cut to `cut` bytes if nonzero. */
static void
s_save_msg(const char *name, const mpp_msg_t *m, size_t cut)
{
    mpp_buf_t b;
    mpp_buf_init(&b);
    if (mpp_wire_encode(m, &b) != 0) {
        fprintf(stderr, "%s: encode failed\n", name);
        s_failed = 1;
        return;
    }
    s_save("wire", name, b.data, b.len);
    if (cut > 0 && cut < b.len) {
        char cname[256];
        snprintf(cname, sizeof(cname), "cut_%s", name);
        s_save("wire", cname, b.data, cut);
    }
    mpp_buf_fini(&b);
}

#define TOKEN "0123456789abcdef0123456789abcdef"

static void
s_wire(void)
{
    static const char *argv[] = {"script.py", "-n", "4"};
    mpp_msg_t hello = {
        .token = TOKEN, .pid = 1234, .type = MPP_MSG_HELLO, .ppid = 1000,
        .start_method = "fork", .python = "3.11.7", .argv = argv, .argc = 3,
        .start_ns = 1700000000000000000, .name = "ForkPoolWorker-1",
    };
    s_save_msg("hello.bin", &hello, 20);

    mpp_wfunc_t funcs[] = {
        {0, 3, "/app/script.py", "work"},
        {1, 0, "~", "<built-in method time.sleep>"},
        {2, 40, "/usr/lib/python3.11/multiprocessing/pool.py", "worker"},
    };
    mpp_wstat_t stats[] = {
        {0, {100, 100, 5000000, 9000000}},
        {1, {100, 100, 4000000, 4000000}},
        {2, {1, 1, 10000, 9500000}},
    };
    mpp_wedge_t edges[] = {
        {2, 0, {100, 100, 5000000, 9000000}},
        {0, 1, {100, 100, 4000000, 4000000}},
    };
    mpp_wthread_t threads[2] = {
        {.tid = 140001, .name = "MainThread", .stats = stats, .nstats = 3,
         .edges = edges, .nedges = 2},
        {.tid = 140002, .name = NULL, .stats = stats + 1, .nstats = 1},
    };
    threads[0].cat[MPP_CAT_PICKLE] = (mpp_catval_t){1500, 2, 512};
    threads[0].cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){900000, 7, 0};
    threads[1].cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){42, 1, 0};
    mpp_wspan_t spans[] = {
        {140001, MPP_CAT_PICKLE, 0, 1700000000000100000, 1500, 512},
        {140002, MPP_CAT_LOCK_WAIT, 1, 1700000000000200000, 42, 0},
    };
    mpp_msg_t data = {
        .token = TOKEN, .pid = 1234, .seq = 1, .type = MPP_MSG_DATA,
        .name = "ForkPoolWorker-1", .wall_ns = 12000000, .cpu_ns = 11000000,
        .dropped = 0, .mem_bytes = 12345678, .funcs = funcs, .nfuncs = 3,
        .threads = threads, .nthreads = 2, .spans = spans, .nspans = 2,
    };
    s_save_msg("data.bin", &data, 200);
    mpp_msg_t empty = {.token = TOKEN, .pid = 1, .seq = 7,
                       .type = MPP_MSG_DATA};
    s_save_msg("data_empty.bin", &empty, 0);
    mpp_msg_t bye = {
        .token = TOKEN, .pid = 1234, .seq = 2, .type = MPP_MSG_BYE,
        .exit_kind = MPP_EXIT_SIGNAL, .exit_code = 15, .wall_ns = 13000000,
        .cpu_ns = 11500000, .dropped = 3,
    };
    s_save_msg("bye.bin", &bye, 0);

    /* Broken on purpose: another version, a foreign magic, a count far
     * beyond the data, trailing bytes. */
    static const char v2[] = "\x97\xa3mpp\x02\xa0\x01\x00\x03\x80";
    s_save("wire", "bad_version.bin", v2, sizeof(v2) - 1);
    static const char magic[] = "\x97\xa3zmq\x01\xa0\x01\x00\x03\x80";
    s_save("wire", "bad_magic.bin", magic, sizeof(magic) - 1);
    static const char bomb[] = "\x97\xa3mpp\x01\xa0\x01\x00\x02\x81\xa5"
                               "funcs\xdd\xff\xff\xff\xff";
    s_save("wire", "huge_count.bin", bomb, sizeof(bomb) - 1);
    static const char trail[] = "\x97\xa3mpp\x01\xa0\x01\x00\x03\x80\xc0";
    s_save("wire", "trailing.bin", trail, sizeof(trail) - 1);
}

static void
s_sessfile_save(const char *name, const mpp_session_t *s, size_t cut)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL || mpp_sessfile_write(s, f) != 0 || fclose(f) != 0) {
        fprintf(stderr, "%s: write failed\n", name);
        s_failed = 1;
        free(buf);
        return;
    }
    s_save("sessfile", name, buf, len);
    if (cut > 0 && cut < len) {
        char cname[256];
        snprintf(cname, sizeof(cname), "cut_%s", name);
        s_save("sessfile", cname, buf, cut);
    }
    free(buf);
}

static void
s_sessfile(void)
{
    mpp_session_t *s = mpp_session_new();
    if (s == NULL) {
        s_failed = 1;
        return;
    }
    s_sessfile_save("empty.mpprof", s, 0);

    static char *const cmd[] = {"script.py", "-n", "2"};
    mpp_session_set_command(s, cmd, 3);
    s->python = strdup("3.11.7");
    s->wall_ns = 2000000000;
    s->integrity.messages = 9;
    int64_t f0 = mpp_session_intern(s, "/app/script.py", 3, "work");
    int64_t f1 = mpp_session_intern(s, "~", 0, "<built-in method sleep>");
    for (int i = 0; i < 2 && f0 >= 0 && f1 >= 0; i++) {
        mpp_proc_t *p = mpp_session_proc(s, 100 + i, true);
        if (p == NULL) {
            break;
        }
        p->ppid = i ? 100 : 1;
        p->name = strdup(i ? "ForkPoolWorker-1" : "MainProcess");
        p->start_method = strdup(i ? "fork" : "main");
        p->hello = true;
        p->exit_kind = MPP_EXIT_OK;
        p->messages = p->next_seq = 3;
        mpp_thread_t *t = mpp_proc_thread(p, 140001, true);
        if (t == NULL) {
            break;
        }
        t->name = strdup("MainThread");
        mpp_cost_t c = {10, 10, 1000, 2000};
        mpp_thread_set_stat(t, (uint32_t)f0, &c);
        mpp_thread_set_stat(t, (uint32_t)f1, &c);
        mpp_thread_set_edge(t, (uint32_t)f0, (uint32_t)f1, &c);
        t->cat[MPP_CAT_PICKLE] = (mpp_catval_t){500, 1, 64};
        mpp_span_t sp = {MPP_CAT_PICKLE, (uint32_t)f0, 1700000000000000000,
                         500, 64};
        mpp_thread_add_span(t, &sp);
    }
    s_sessfile_save("small.mpprof", s, 100);
    mpp_session_destroy(&s);

    static const char v99[] = "MPPROF\0\n\x63\x80";
    s_save("sessfile", "version99.mpprof", v99, sizeof(v99) - 1);
    static const char magic[] = "MPPROF\0\r\x01\x80";
    s_save("sessfile", "bad_magic.mpprof", magic, sizeof(magic) - 1);
    static const char bomb[] = "MPPROF\0\n\x01\x81\xa5"
                               "funcs\xdd\xff\xff\xff";
    s_save("sessfile", "huge_count.mpprof", bomb, sizeof(bomb) - 1);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    s_dir = argv[1];
    char path[4096];
    const char *subs[] = {"", "/wire", "/sessfile"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", s_dir, subs[i]);
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            perror(path);
            return 1;
        }
    }
    s_wire();
    s_sessfile();
    return s_failed;
}
