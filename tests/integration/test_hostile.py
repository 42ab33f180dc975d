"""A process of the session sends the aggregator forged frames.

The aggregator's endpoint and the session token are in every profiled
process's environment (MPPROF_ENDPOINT, MPPROF_SESSION), so any code the
profiled program runs can talk to it, and the aggregator treats every frame
as hostile (design.md).  Issue 9, item 2: one small DATA frame defining
function id 0xFFFFFFF0 made the aggregator grow and zero a 2^32-entry map,
16 GiB and 85 s.  Here a script run under `mpprof run` sends that frame
itself, over a raw ZMTP 3.0 connection (standard library only: no pyzmq),
and the run must reject and count it, keep no trace of it, and stay small.
"""

import os
import resource
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

FORGED_PID = 2**31 - 2
RSS_LIMIT_MB = 300

# The target: standard library only, so it runs under any Python.
SENDER = r'''
import json, os, socket, struct, sys, time

def p_uint(v):
    if v < 0x80:
        return bytes([v])
    if v < 0x100:
        return b"\xcc" + bytes([v])
    if v < 0x10000:
        return b"\xcd" + struct.pack(">H", v)
    if v < 0x100000000:
        return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)

def p_str(s):
    b = s.encode()
    if len(b) < 32:
        return bytes([0xa0 | len(b)]) + b
    return b"\xd9" + bytes([len(b)]) + b

def p_arr(*items):
    assert len(items) < 16
    return bytes([0x90 | len(items)]) + b"".join(items)

def p_map(*pairs):
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)

NIL = b"\xc0"
FID = 0xFFFFFFF0

def forged_data(token, pid):
    cats = p_arr(*[p_arr(p_uint(0), p_uint(0), p_uint(0))] * 5)
    thread = p_arr(p_uint(1), NIL,
                   p_arr(p_arr(p_uint(FID), p_uint(1), p_uint(1),
                               p_uint(1), p_uint(1))),
                   p_arr(), cats)
    body = p_map((p_str("funcs"),
                  p_arr(p_arr(p_uint(FID), p_str("/e.py"), p_uint(1),
                              p_str("e")))),
                 (p_str("threads"), p_arr(thread)))
    return p_arr(p_str("mpp"), p_uint(1), p_str(token), p_uint(pid),
                 p_uint(0), p_uint(2), body)

def read_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("peer closed")
        buf += chunk
    return buf

def zmtp_push(path, frames):
    """ZMTP 3.0, NULL mechanism, as a PUSH socket (RFC 23)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00"
              + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)
    read_exactly(s, 64)
    ready = (b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 4)
             + b"PUSH")
    s.sendall(b"\x04" + bytes([len(ready)]) + ready)
    flags = read_exactly(s, 1)[0]
    size = (struct.unpack(">Q", read_exactly(s, 8))[0] if flags & 0x02
            else read_exactly(s, 1)[0])
    read_exactly(s, size)
    for f in frames:
        if len(f) < 256:
            s.sendall(b"\x00" + bytes([len(f)]) + f)
        else:
            s.sendall(b"\x02" + struct.pack(">Q", len(f)) + f)
    # Let the aggregator read the frames before the connection goes.
    time.sleep(0.5)
    s.close()

endpoint = os.environ["MPPROF_ENDPOINT"]
token = os.environ["MPPROF_SESSION"]
assert endpoint.startswith("ipc://"), endpoint
frame = forged_data(token, int(sys.argv[1]))
zmtp_push(endpoint[len("ipc://"):], [frame])
print("MPPTEST_TRUTH " + json.dumps({"frame_bytes": len(frame)}))
'''


class HostileFrames(unittest.TestCase):

    def test_forged_function_id(self):
        d = mpptest.mktemp(self)
        script = os.path.join(d, "send_forged.py")
        with open(script, "w") as f:
            f.write(SENDER)
        t0 = time.monotonic()
        r = mpptest.run([script, str(FORGED_PID)], test=self, timeout=300)
        elapsed = time.monotonic() - t0
        # ru_maxrss of the children is the largest peak of any process
        # this test has waited for, the launcher (and its aggregator
        # thread) and the target included: an upper bound of this run's.
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        self.assertEqual(r.returncode, 0, r.describe())
        truth = r.truth()
        self.assertIn("frame_bytes", truth, r.describe())
        self.assertLess(truth["frame_bytes"], 160)

        rep = mpptest.report_json(r.outdir)
        integ = rep["integrity"]
        # The forged frame, and only it, is rejected; the honest frames of
        # the script's own collector all count.
        self.assertEqual(integ["rejected"], 1, integ)
        self.assertGreaterEqual(integ["messages"], 3, integ)
        # Rejected whole: no process record for the forged pid, so no
        # "lost" process either.
        pids = [p["pid"] for p in rep["processes"]]
        self.assertNotIn(FORGED_PID, pids)
        self.assertEqual(integ["processes_lost"], 0, integ)
        self.assertLess(peak_mb, RSS_LIMIT_MB,
                        "peak RSS %.0f MB (run took %.1f s)" % (peak_mb,
                                                               elapsed))
        sys.stderr.write("test_hostile: frame %d bytes, rejected %d, "
                         "peak RSS %.1f MB, %.1f s\n" % (
                             truth["frame_bytes"], integ["rejected"],
                             peak_mb, elapsed))


if __name__ == "__main__":
    mpptest.main()
