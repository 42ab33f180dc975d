/*  Shared by the session file tests (test_sessfile.c: round trips, cut
 *  and corrupted files, loading; test_sessfile_reader.c: what the reader
 *  accepts and refuses in hand-made files): a session built by hand that
 *  uses every field, a deep comparison, and hand-made files.
 */
#ifndef MPP_SESSFILE_FIXTURE_H
#define MPP_SESSFILE_FIXTURE_H

#include <msgpack.h>

#include "mpp_output.h"
#include "mpp_test.h"

/* ---- building a session by hand ----------------------------------------- */

/* A cost of n calls (n - 1 primitive), t ns own and 2t cumulative. */
mpp_cost_t mpp_sf_cost(uint64_t n, int64_t t);

/*  A session that uses every field, extreme values included: a parent
 *  with two threads, a worker with the parent's tid, a later process that
 *  reuses the parent's pid (lost), and one that never said anything. */
mpp_session_t *mpp_sf_build(void);

/* Fails the test unless the sessions are equal, field for field. */
void mpp_sf_same_session(const mpp_session_t *a, const mpp_session_t *b);

/* ---- files -----------------------------------------------------------------
 */

/* The session file of `s`, malloc'd; *len is its size. */
char *mpp_sf_write(const mpp_session_t *s, size_t *len);

/*  Parses exactly len bytes from a heap copy, so ASan sees any overread,
 *  and checks that *out is set exactly when the result is 0. */
int mpp_sf_parse(const void *data, size_t len, mpp_session_t **out);

/* A hand-made file: magic and version, then whatever the test packs. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mpp_sf_raw_t;

void mpp_sf_raw_init(mpp_sf_raw_t *r, uint32_t version);

/* Packs a string (a map key, usually). */
void mpp_sf_key(mpp_sf_raw_t *r, const char *k);

/* Parses the file made so far and frees it; mpp_sf_raw_rc also destroys
 * the session and returns only the code. */
int mpp_sf_raw_parse(mpp_sf_raw_t *r, mpp_session_t **out);
int mpp_sf_raw_rc(mpp_sf_raw_t *r);

#endif
