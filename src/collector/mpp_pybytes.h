/*  The Python half of byte measuring: the core's measure callbacks
 *  (mpp_core.h), which find how many bytes a category call moved from
 *  Python objects the core only sees as opaque pointers. */
#ifndef MPP_PYBYTES_H
#define MPP_PYBYTES_H

#include "mpp_core.h"

mpp_measure_t mpp_pybytes_measure(void);

#endif
