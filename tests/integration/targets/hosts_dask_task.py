"""The task test_netns.py maps over a Dask cluster: imported by name on
the workers, so it is the same function (file, line, name) on both."""


def mpptest_task(i):
    return i * 3 + 1
