/*  The Python half of byte measuring: the core's measure callbacks
 *  (mpp_core.h), which find how many bytes a category call moved from
 *  Python objects the core only sees as opaque pointers. */
#ifndef MPP_PYBYTES_H
#define MPP_PYBYTES_H

#include "mpp_core.h"

mpp_measure_t mpp_pybytes_measure(void);

/*  What a backend without frames (sys.monitoring's callbacks) passes as
 *  the frame of a call: "the frame the thread runs now", looked up only
 *  when a category function needs its argument measured. */
#define MPP_PYBYTES_CURRENT_FRAME ((void *)1)

#endif
