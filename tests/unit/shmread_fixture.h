/*  The harness of the mapping reader's tests (test_shmread.c,
 *  test_shmread_agent.c): core_fixture.h's cores with their tables in a
 *  mapping in a directory of the test's own, the file's bytes loaded as
 *  the agent loads them, and the reader's frames decoded.  Its helpers
 *  are static; a test file uses what it needs and (void)s the rest. */
#ifndef SHMREAD_FIXTURE_H
#define SHMREAD_FIXTURE_H

#include "core_fixture.h"

#include <sys/wait.h>

#include "mpp_shm.h"
#include "mpp_shm_root.h"
#include "mpp_shmread.h"

static char s_dir[64];

static void
s_setup(void)
{
    snprintf(s_dir, sizeof(s_dir), "/tmp/mpp-test-shmread-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(s_dir));
    s_shm_dir = s_dir;
}

static void
s_teardown(mpp_core_t **core)
{
    s_core_end(core);
    rmdir(s_dir);
    s_shm_dir = NULL;
}

/* The path of process `pid`'s file in s_dir. */
static void
s_path(pid_t pid, char *path, size_t size)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "p%lld-", (long long)pid);
    DIR *d = opendir(s_dir);
    ASSERT_NOT_NULL(d);
    struct dirent *e;
    path[0] = '\0';
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(path, size, "%s/%s", s_dir, e->d_name);
        }
    }
    closedir(d);
    ASSERT(path[0] != '\0');
}

/* The bytes of process `pid`'s file in s_dir, as the agent reads them. */
static unsigned char *
s_bytes(pid_t pid, bool live, size_t *len)
{
    char path[4096];
    s_path(pid, path, sizeof(path));
    unsigned char *bytes;
    ASSERT_EQ(mpp_shmread_load(path, live, &bytes, len), 0);
    return bytes;
}

/* This process's mapping file, open for the agent's acknowledgment. */
static int
s_ack_fd(void)
{
    char path[4096];
    s_path(getpid(), path, sizeof(path));
    int fd = open(path, O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    return fd;
}

static size_t
s_threads(const mpp_core_t *core)
{
    mpp_core_info_t info;
    mpp_core_info(core, &info);
    return info.threads;
}

/* Decodes every frame of `out` into msg[] (cleared by s_clear). */
static size_t
s_decode(const mpp_shmread_out_t *out, mpp_msg_t *msg)
{
    for (size_t i = 0; i < out->n; i++) {
        ASSERT_EQ(mpp_wire_decode(out->frame[i].data, out->frame[i].len,
                                  &msg[i]),
                  0);
        ASSERT_EQ(msg[i].type, out->type[i]);
    }
    return out->n;
}

static void
s_clear(mpp_msg_t *msg, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mpp_msg_clear(&msg[i]);
    }
}

static const mpp_wstat_t *
s_wstat(const mpp_msg_t *m, uint32_t fid)
{
    for (size_t i = 0; i < m->nthreads; i++) {
        for (size_t j = 0; j < m->threads[i].nstats; j++) {
            if (m->threads[i].stats[j].fid == fid) {
                return &m->threads[i].stats[j];
            }
        }
    }
    return NULL;
}

static const mpp_wedge_t *
s_wedge(const mpp_msg_t *m, uint32_t caller, uint32_t callee)
{
    for (size_t i = 0; i < m->nthreads; i++) {
        for (size_t j = 0; j < m->threads[i].nedges; j++) {
            const mpp_wedge_t *e = &m->threads[i].edges[j];
            if (e->caller == caller && e->callee == callee) {
                return e;
            }
        }
    }
    return NULL;
}

static size_t
s_nstats(const mpp_msg_t *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nthreads; i++) {
        n += m->threads[i].nstats;
    }
    return n;
}

static void
s_cost_eq(const mpp_cost_t *a, const mpp_cost_t *b)
{
    ASSERT_EQ(a->ncalls, b->ncalls);
    ASSERT_EQ(a->pcalls, b->pcalls);
    ASSERT_EQ(a->tt_ns, b->tt_ns);
    ASSERT_EQ(a->ct_ns, b->ct_ns);
}

/* One read of this process's file with `r`; returns the messages. */
static size_t
s_read(mpp_shmread_t *r, mpp_msg_t *msg)
{
    size_t len;
    unsigned char *b = s_bytes(getpid(), true, &len);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    ASSERT_EQ(mpp_shmread_read(r, b, len, &out), 0);
    size_t n = s_decode(&out, msg);
    mpp_shmread_out_fini(&out);
    free(b);
    return n;
}

#endif
