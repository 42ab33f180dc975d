/*  An open-addressing hash map from uint64 keys to uint32 values.  Used by
 *  the session model and the aggregator; never on the collector hot path. */
#ifndef MPP_MAP_H
#define MPP_MAP_H

#include "mpp_internal.h"

typedef struct mpp_map mpp_map_t;

mpp_map_t *mpp_map_new(void);
void mpp_map_destroy(mpp_map_t **self_p);

/* Returns true and sets *value if key is present. */
bool mpp_map_get(const mpp_map_t *self, uint64_t key, uint32_t *value);

/* Inserts or replaces. Returns 0 or MPP_ENOMEM. */
int mpp_map_put(mpp_map_t *self, uint64_t key, uint32_t value);

size_t mpp_map_size(const mpp_map_t *self);

#endif
