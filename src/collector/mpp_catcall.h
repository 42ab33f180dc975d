/*  The C functions a category needs, seen in fast mode (mpp_monitor.h)
 *  without sys.monitoring's CALL events.
 *
 *  Fast mode leaves CALL, C_RETURN and C_RAISE off: those events fire at
 *  every call of any kind, and they are what makes the default mode cost
 *  more than Python events alone.  The categories still need a few C
 *  functions (the C pickler's dumps/dump/loads/load and its Pickler.dump
 *  and Unpickler.load, the acquire and __enter__ of _thread.lock,
 *  _thread.RLock and _multiprocessing.SemLock).  For exactly those, the C
 *  function behind the builtin is swapped in its method table, as
 *  mpp_interpose.c does for os._exit: the objects the program sees stay
 *  the same, every caller goes through the wrapper, and the wrapper
 *  enters and leaves the function in the calling thread's tables around
 *  the real call, which is what the CALL path would have done.
 *
 *  Modules load late (multiprocessing imports _multiprocessing when the
 *  program first uses it), so mpp_catcall_refresh() is called from the
 *  cold path where a new Python function is named, and swaps what has
 *  appeared in sys.modules since.  It never imports anything itself.
 */
#ifndef MPP_CATCALL_H
#define MPP_CATCALL_H

#include "mpp_pycompat.h"

/*  Swaps every target whose module is loaded and not swapped yet.
 *  Cheap when nothing changed (sys.modules has the same size); never
 *  raises. */
void mpp_catcall_refresh(void);

/* How many targets are swapped (for tests and info()). */
int mpp_catcall_count(void);

#endif
