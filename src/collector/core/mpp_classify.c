/*  Which functions start a category or mark a phase, for the collector
 *  (see mpp_cats.h).  The rules themselves are the category catalog's
 *  (src/common/mpp_catalog.c), which the report reads too; this turns an
 *  entry into the tag and mark the registry stores.
 */
#include "mpp_internal.h"

#include <string.h>

#include "mpp_catalog.h"
#include "mpp_cats.h"

/*  Every catalogued function with a category starts it, whatever its role
 *  for the report: a root (lock.acquire), an outer wait (queue.Queue.get)
 *  or a wrapper with a category (multiprocessing's Queue.get), so their
 *  own bookkeeping between blocking calls counts as the category. */
static uint8_t
s_tag(const mpp_catalog_entry_t *e)
{
    uint8_t tag = 0;
    if (e->cat >= 0 && e->cat < MPP_CAT_COUNT) {
        tag = (uint8_t)(e->cat + 1);
    }
    if (e->bytes == MPP_BYTES_RET) {
        tag |= MPP_TAG_BYTES_RET;
    }
    else if (e->bytes == MPP_BYTES_ARG) {
        tag |= MPP_TAG_BYTES_ARG;
    }
    if (e->phase == MPP_PHASE_MODULE) {
        tag |= MPP_TAG_MODULE;
    }
    else if (e->phase == MPP_PHASE_RUN) {
        tag |= MPP_TAG_RUN;
    }
    else if (e->phase == MPP_PHASE_MAIN ||
             (e->phase == MPP_PHASE_LAUNCH && strcmp(e->name, "main") == 0)) {
        /* The fork server's main() is also where it forks workers. */
        tag |= MPP_TAG_MAIN;
    }
    return tag;
}

static uint8_t
s_mark(const mpp_catalog_entry_t *e)
{
    switch (e->phase) {
    case MPP_PHASE_RUNCODE:
        return MPP_MARK_RUNCODE;
    case MPP_PHASE_BOOTSTRAP:
        return MPP_MARK_BOOTSTRAP;
    case MPP_PHASE_LAUNCH:
        return MPP_MARK_LAUNCH;
    default:
        return 0;
    }
}

void
mpp_cats_classify(const char *file, const char *name, uint8_t *tag,
                  uint8_t *mark)
{
    const mpp_catalog_entry_t *e = mpp_catalog_find(file, name);
    *tag = e ? s_tag(e) : 0;
    *mark = e ? s_mark(e) : 0;
}
