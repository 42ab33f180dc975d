/*  The collector's function registry: one process-wide id per function.
 *
 *  A definition (file, line, name) is copied once as C strings when a
 *  function is first seen, so nothing here refers to a Python object.  Ids
 *  are dense and never reused; a fork child keeps them (the code objects'
 *  cached ids must stay valid) and only forgets which ones it has sent.
 *
 *  C functions have no place to cache an id, so they are found by a key
 *  (their PyMethodDef pointer, as cProfile keys them) in an open-addressing
 *  table.  Nothing here needs Python, so it also works after finalization.
 *
 *  Each definition is classified once, when it is added, by mpp_cats
 *  (which category it starts, whether it marks a phase of start-up); the
 *  hot path then finds that in a byte.
 */
#ifndef MPP_FUNCS_H
#define MPP_FUNCS_H

#include "mpp_internal.h"

#define MPP_NOFID UINT32_MAX

typedef struct mpp_funcs mpp_funcs_t;

struct mpp_shm;

/* Returns NULL when out of memory.  With `shm`, definitions live in that
 * mapping (mpp_shm.h), else in private memory. */
mpp_funcs_t *mpp_funcs_new(struct mpp_shm *shm);
void mpp_funcs_destroy(mpp_funcs_t **self_p);

/*  Adds a definition (the strings are copied) and returns its id, or
 *  MPP_NOFID when out of memory.  NULL strings are stored as "?".  A
 *  definition equal to one already added (file, line and name) gets that
 *  one's id: pstats and the aggregator know a function by exactly these,
 *  so code objects made anew for one function (exec'd source, functions
 *  cloudpickle sends by value) count as one function, not as several
 *  whose cumulative numbers would overwrite each other. */
uint32_t mpp_funcs_add(mpp_funcs_t *self, const char *file, int32_t line,
                       const char *name);

/* The id bound to `key`, or MPP_NOFID. */
uint32_t mpp_funcs_find(const mpp_funcs_t *self, const void *key);

/* Binds `key` to `fid`.  Returns 0 or MPP_ENOMEM. */
int mpp_funcs_bind(mpp_funcs_t *self, const void *key, uint32_t fid);

uint32_t mpp_funcs_count(const mpp_funcs_t *self);

/* The definition of a known id, borrowed from the registry. */
void mpp_funcs_get(const mpp_funcs_t *self, uint32_t fid, mpp_wfunc_t *out);

/* The MPP_TAG_* and MPP_MARK_* (mpp_cats.h) of a known id; 0 for
 * MPP_NOFID. */
uint8_t mpp_funcs_tag(const mpp_funcs_t *self, uint32_t fid);
uint8_t mpp_funcs_mark(const mpp_funcs_t *self, uint32_t fid);

/*  Delivery state of definitions.  A DATA message takes the definitions
 *  its entries refer to and that were not sent before (mpp_funcs_take),
 *  then commits them as sent once the message is out, or gives them back
 *  when sending failed, so the next message carries them again. */
bool mpp_funcs_take(mpp_funcs_t *self, uint32_t fid);
void mpp_funcs_settle(mpp_funcs_t *self, const mpp_wfunc_t *taken, size_t n,
                      bool sent);
void mpp_funcs_unsend_all(mpp_funcs_t *self);

/* Bytes of memory the registry holds. */
size_t mpp_funcs_mem(const mpp_funcs_t *self);

#endif
