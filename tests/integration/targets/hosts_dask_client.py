"""Dask client for test_netns.py: maps mpptest_task over N items on a
cluster of two workers, checks every result, then shuts the cluster
down (the workers' `mpprof run` then end).  argv: SCHEDULER N."""
import json
import sys

from distributed import Client

import hosts_dask_task

addr, n = sys.argv[1], int(sys.argv[2])
client = Client(addr, timeout=120)
client.wait_for_workers(2, timeout=180)
futures = client.map(hosts_dask_task.mpptest_task, range(n), pure=False)
results = client.gather(futures)
assert results == [i * 3 + 1 for i in range(n)], results
print("MPPTEST_TRUTH " + json.dumps({"mpptest_task": n,
                                     "workers": len(client.scheduler_info()
                                                    ["workers"])}),
      flush=True)
client.shutdown()
