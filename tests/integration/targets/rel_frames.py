"""Sends hostile frames to the live aggregator socket while profiled.

Calls work() N1 times, waits for its own collector to have sent a few
messages, then connects its own ZeroMQ PUSH socket (libzmq through ctypes)
to MPPROF_ENDPOINT and sends one frame of each kind below, then calls
work() N2 more times.  Prints MPPTEST_TRUTH with the counts and the number
of frames that must be counted as rejected.  Every well-formed frame
carries a function "intruder" that must never appear in the profile.

Run outside mpprof (no MPPROF_ENDPOINT) it only does the work.
"""
import ctypes
import json
import os
import sys
import time

ZMQ_PUSH = 8
ZMQ_LINGER = 17
MAX_MSG = 64 * 1024 * 1024      # MPP_WIRE_MAX_MSG
MAX_STR = 4096                  # MPP_WIRE_MAX_STR
DATA = 2


def pack(o):
    """A minimal msgpack encoder: enough for the wire format."""
    if o is None:
        return b"\xc0"
    if isinstance(o, bool):
        return b"\xc3" if o else b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if o >= 0:
            return b"\xcf" + o.to_bytes(8, "big")
        if o >= -32:
            return (o & 0xff).to_bytes(1, "big")
        return b"\xd3" + o.to_bytes(8, "big", signed=True)
    if isinstance(o, str):
        b = o.encode("utf-8", "surrogateescape")
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xdb" + len(b).to_bytes(4, "big") + b
    if isinstance(o, (list, tuple)):
        return (b"\xdd" + len(o).to_bytes(4, "big")
                + b"".join(pack(x) for x in o))
    if isinstance(o, dict):
        return (b"\xdf" + len(o).to_bytes(4, "big")
                + b"".join(pack(k) + pack(v) for k, v in o.items()))
    raise TypeError(type(o))


def frame(token, pid, seq, version=1, name="intruder"):
    """A well-formed DATA frame adding 777 calls of NAME."""
    cats = [[0, 0, 0]] * 5
    body = {
        "name": "Intruder",
        "funcs": [[9999, "/intruder.py", 1, name]],
        "threads": [[1, "Intruder", [[9999, 777, 777, 1000, 1000]], [],
                     cats]],
    }
    return pack(["mpp", version, token, pid, seq, DATA, body])


def hostile_frames(token):
    me = os.getpid()
    good = frame(token, me, 1000)
    return [
        ("foreign token", frame("f" * 32, me, 1000)),
        ("short token", frame(token[:16], me, 1000)),
        ("garbage", bytes(range(256)) * 4),
        ("empty", b""),
        ("truncated", good[:len(good) // 2]),
        ("trailing bytes", good + b"\x00"),
        ("wrong version", frame(token, me, 1000, version=2)),
        ("replayed seq", frame(token, me, 0)),
        ("pid 0", frame(token, 0, 0)),
        ("pid -1", frame(token, -1, 0)),
        ("oversized string", frame(token, me, 1000, name="x" * (MAX_STR + 1))),
        ("huge array claim", b"\xdd\xff\xff\xff\xff" + pack("mpp")),
        ("oversized frame", b"\x00" * (MAX_MSG + 1)),
    ]


def send_all(endpoint, frames):
    zmq = ctypes.CDLL("libzmq.so.5")
    zmq.zmq_ctx_new.restype = ctypes.c_void_p
    zmq.zmq_socket.restype = ctypes.c_void_p
    zmq.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
    zmq.zmq_setsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                   ctypes.c_void_p, ctypes.c_size_t]
    zmq.zmq_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    zmq.zmq_send.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                             ctypes.c_size_t, ctypes.c_int]
    zmq.zmq_close.argtypes = [ctypes.c_void_p]
    zmq.zmq_ctx_term.argtypes = [ctypes.c_void_p]
    ctx = zmq.zmq_ctx_new()
    sock = zmq.zmq_socket(ctx, ZMQ_PUSH)
    linger = ctypes.c_int(10000)
    zmq.zmq_setsockopt(sock, ZMQ_LINGER, ctypes.byref(linger), 4)
    if zmq.zmq_connect(sock, os.fsencode(endpoint)) != 0:
        raise OSError("zmq_connect failed")
    for label, data in frames:
        if zmq.zmq_send(sock, data, len(data), 0) != len(data):
            raise OSError("zmq_send failed for %s" % label)
    zmq.zmq_close(sock)
    # Returns once every frame is handed to the kernel (or the linger
    # ran out).
    zmq.zmq_ctx_term(ctx)


def work(i):
    return i * 2


def main():
    n1, n2 = 1234, 4321
    for i in range(n1):
        work(i)
    endpoint = os.environ.get("MPPROF_ENDPOINT")
    token = os.environ.get("MPPROF_SESSION")
    sent = 0
    if endpoint and token:
        # Lets the collector's HELLO and first DATA arrive, so that seq 0
        # of this pid is taken and the "replayed seq" frame is a replay.
        time.sleep(0.5)
        frames = hostile_frames(token)
        send_all(endpoint, frames)
        sent = len(frames)
        time.sleep(0.3)
    for i in range(n2):
        work(i)
    print("MPPTEST_TRUTH " + json.dumps({"work": n1 + n2, "rejected": sent}))


if __name__ == "__main__":
    main()
