/*  The signal side of a profiled process's end (mpp_exit.c): pure POSIX,
 *  process-wide, for the collector module to call at the right moments.
 */
#ifndef MPP_SIGNALS_H
#define MPP_SIGNALS_H

#include <stdbool.h>

/*  While the collector's Python-level handler has SIGTERM: puts a C
 *  handler in front of Python's that makes sure the Python handler really
 *  runs (a signal landing just before the main thread blocks in C would
 *  otherwise be stuck), or else ends the process with the default action
 *  after 5 s.  Call from the main thread.  Returns false when SIGTERM is
 *  not handled by Python right now. */
bool mpp_core_sigterm_install(void);

/* Stops the re-sending once the Python handler runs or Python exits. */
void mpp_core_sigterm_disarm(void);

/*  In a fork child, from an at-fork callback (after Python's own signal
 *  reset): a new timer for this thread, and a SIGTERM that arrived before
 *  the reset is sent again. */
void mpp_core_sigterm_after_fork(void);

/*  From now until the process ends, SIGTERM, SIGINT and SIGHUP whose
 *  action is the default are held: the first one is recorded, reported in
 *  BYE, and takes its default action once the final batch is out; a
 *  second one takes effect at once.  Parents often signal children that
 *  are already exiting (Pool.terminate() and workers that just got their
 *  stop sentinel), and Python drops its handlers early in finalization, so
 *  without this the default action would cut the last batch off.  Call it
 *  when Python no longer handles these signals itself. */
void mpp_core_hold_signals(void);

#endif
