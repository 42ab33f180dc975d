"""Describes the aggregator's socket as the target sees it: prints
MPPTEST_TRUTH with the endpoint, the socket's directory and its mode,
owner and kind, and the socket's own kind and parent."""
import json
import os
import stat


def main():
    endpoint = os.environ.get("MPPROF_ENDPOINT", "")
    path = endpoint[len("ipc://"):] if endpoint.startswith("ipc://") else ""
    info = {"endpoint": endpoint, "sock": path}
    if path:
        d = os.path.dirname(path)
        dst = os.lstat(d)
        sst = os.lstat(path)
        info.update({
            "dir": d,
            "dir_mode": stat.S_IMODE(dst.st_mode),
            "dir_is_dir": stat.S_ISDIR(dst.st_mode),
            "dir_uid": dst.st_uid,
            "dir_entries": sorted(os.listdir(d)),
            "sock_is_socket": stat.S_ISSOCK(sst.st_mode),
            "sock_uid": sst.st_uid,
        })
    print("MPPTEST_TRUTH " + json.dumps(info))


if __name__ == "__main__":
    main()
