/*  The session file: a lossless record of an mpp_session_t, private to
 *  its writer (mpp_sessfile_write.c), its reader (mpp_sessfile_read.c)
 *  and the entry points that check the header and load files
 *  (mpp_sessfile.c).
 *
 *  Layout: the 8 bytes MPP_SESSFILE_MAGIC, a msgpack uint version, then
 *  one msgpack map.  Objects are maps keyed by name, so a reader skips
 *  keys it does not know and treats missing keys as zero, empty or NULL;
 *  bulk tables are arrays of rows, and a row may carry extra trailing
 *  columns that older readers skip.  A string that may be NULL in the
 *  model is stored as nil.
 *
 *    { "mpprof_version": str|nil, "python": str|nil,
 *      "command": [str]|nil, "start_ns": int, "wall_ns": int,
 *      "exit_status": int,
 *      "integrity": { "messages": uint, "rejected": uint,
 *                     "seq_gaps": uint, "processes_lost": uint,
 *                     "dropped_events": uint, "refused": uint },
 *      "funcs": [[file:str, line:int, name:str]],   index = function id
 *      "procs": [ { "pid": int (first key), "ppid": int,
 *                   "name": str|nil, "start_method": str|nil,
 *                   "python": str|nil, "argv": [str]|nil,
 *                   "start_ns": int, "wall_ns": int, "cpu_ns": int,
 *                   "dropped": uint, "mem_bytes": uint,
 *                   "messages": uint, "next_seq": uint, "hello": bool,
 *                   "exit_kind": uint, "exit_code": int,
 *                   "host": str|nil, "rank": int|nil,
 *                   "clock": [offset_ns, err_ns]|nil,
 *                   "worker": str|nil (these four
 *                   since multi-host runs; missing in older files),
 *                   "threads": [ { "tid": uint (first key),
 *                                  "name": str|nil,
 *                                  "cats": [[ns, count, bytes]] * 5,
 *                                  "stats": [[func, ncalls, pcalls,
 *                                             tt_ns, ct_ns]],
 *                                  "edges": [[caller, callee, ncalls,
 *                                             pcalls, tt_ns, ct_ns]],
 *                                  "spans": [[cat, func, start_ns,
 *                                             dur_ns, bytes]] } ] } ] }
 *
 *  Processes keep their order and are never merged, because a reused pid
 *  names two different processes.  The identity key comes first in a
 *  process or thread map so the reader can create the object before it
 *  fills it.
 */
#ifndef MPP_SESSFILE_PRIV_H
#define MPP_SESSFILE_PRIV_H

#include "mpp_mpcur.h"
#include "mpp_output.h"

/*  Reads the document after the version (the top-level map) into `s`, a
 *  new session, and checks every function id against the function table.
 *  Returns 0, MPP_ETRUNC, MPP_ECORRUPT or MPP_ENOMEM; on failure `s`
 *  holds whatever was read and must be destroyed. */
int mpp_sessfile_read_doc(mpp_mpcur_t *r, mpp_session_t *s);

#endif
