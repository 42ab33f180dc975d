"""A thread that was already running when the collector started: the
sitecustomize in targets/early (chained by mpprof's own, which runs it
before it starts the collector) starts early_thread's worker, which waits
for this script.  On 3.12+ sys.monitoring sees that thread too.  Needs
targets/early on PYTHONPATH; prints what ran as MPPTEST_TRUTH."""
import json
import sys

import early_thread


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    started = early_thread.started_at_import()
    early_thread.work.append(n)
    early_thread.go.set()
    early_thread.done.wait(60)
    print("early thread", started, early_thread.result)
    truth = {"thread_only": {"early_leaf": len(early_thread.leaf_calls),
                             "early_branch": early_thread.branches}}
    print("MPPTEST_TRUTH " + json.dumps(truth))


if __name__ == "__main__":
    main()
