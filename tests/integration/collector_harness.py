"""The harness of test_collector.py: runs a target script in a fresh
Python with the shim on PYTHONPATH, the way `mpprof run` would, and
receives what the collector sends on a small ZeroMQ PULL socket bound
through ctypes, decoded by a minimal msgpack reader, so the tests need
only the standard library and libzmq.

Environment: MPPROF_SRC (repository root), MPPROF_PYSHIM (the built pyshim
directory; default: the directory of MPPROF_BIN + /pyshim, else
$MPPROF_SRC/build/pyshim), MPPROF_PYTHON (the Python the collector was
built for; default: this one).
"""
import ctypes
import ctypes.util
import glob
import importlib.util
import marshal
import os
import pstats
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = os.path.join(HERE, "collector_targets")
SRC = os.path.abspath(os.environ.get("MPPROF_SRC")
                      or os.path.join(HERE, os.pardir, os.pardir))
PYTHON = os.environ.get("MPPROF_PYTHON") or sys.executable
TOKEN = "0123456789abcdef0123456789abcdef"
TIMEOUT = 120


def _find_pyshim():
    candidates = []
    if os.environ.get("MPPROF_PYSHIM"):
        candidates.append(os.environ["MPPROF_PYSHIM"])
    if os.environ.get("MPPROF_BIN"):
        candidates.append(os.path.join(
            os.path.dirname(os.path.abspath(os.environ["MPPROF_BIN"])),
            "pyshim"))
    candidates.append(os.path.join(SRC, "build", "pyshim"))
    for path in candidates:
        if glob.glob(os.path.join(path, "mpprof", "_collector*.so")):
            return os.path.abspath(path)
    raise RuntimeError("no built collector in any of %s; set MPPROF_PYSHIM"
                       % candidates)


PYSHIM = _find_pyshim()


def target(name):
    return os.path.join(TARGETS, name)


# ---- running targets -------------------------------------------------------

class Run:
    def __init__(self, proc, out, err, seconds):
        self.rc = proc.returncode
        self.out = out
        self.err = err
        self.seconds = seconds

    def err_without_mpprof(self):
        return "".join(line for line in self.err.splitlines(True)
                       if not line.startswith("mpprof: "))


def base_env():
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("MPPROF_") or name == "PYTHONPATH":
            del env[name]
    return env


def shim_env(endpoint, **extra):
    env = base_env()
    env["PYTHONPATH"] = PYSHIM
    env["MPPROF_ENDPOINT"] = endpoint
    env["MPPROF_SESSION"] = TOKEN
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(args, env, timeout=TIMEOUT, cwd=None, preexec_fn=None):
    start = time.monotonic()
    proc = subprocess.Popen([PYTHON] + list(args), env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=preexec_fn)
    out, err = proc.communicate(timeout=timeout)
    return Run(proc, out, err, time.monotonic() - start)


class TempDirTest(unittest.TestCase):
    def setUp(self):
        # Short: ipc:// paths are limited to ~100 bytes.
        self.tmp = tempfile.mkdtemp(prefix="mppc")
        # An endpoint where nothing listens; the linger bound keeps exit
        # quick.
        self.nowhere = "ipc://" + os.path.join(self.tmp, "nobody")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def snapshot_run(self, script, *args, **extra):
        out = os.path.join(self.tmp, "snap")
        extra.setdefault("MPPROF_LINGER_MS", 100)
        env = shim_env(self.nowhere, MPPROF_SNAPSHOT_OUT=out, **extra)
        r = run([script] + list(args), env)
        self.assertEqual(r.rc, 0, r.err)
        with open(out, "rb") as f:
            return marshal.load(f), r

    def cprofile_run(self, script, *args):
        out = os.path.join(self.tmp, "cprof")
        r = run(["-m", "cProfile", "-o", out, script] + list(args),
                base_env())
        self.assertEqual(r.rc, 0, r.err)
        return pstats.Stats(out).stats


# ---- receiving messages ----------------------------------------------------

def _msgpack_unpack(data):
    """Decodes one msgpack document (the subset the wire format uses)."""
    def need(pos, n):
        if pos + n > len(data):
            raise ValueError("truncated msgpack")

    def uint(pos, n):
        need(pos, n)
        return int.from_bytes(data[pos:pos + n], "big"), pos + n

    def sint(pos, n):
        need(pos, n)
        return int.from_bytes(data[pos:pos + n], "big", signed=True), pos + n

    def raw(pos, n):
        need(pos, n)
        return data[pos:pos + n], pos + n

    def seq(pos, n, pairs):
        items = []
        for _ in range(n * (2 if pairs else 1)):
            item, pos = obj(pos)
            items.append(item)
        if pairs:
            return dict(zip(items[0::2], items[1::2])), pos
        return items, pos

    def obj(pos):
        need(pos, 1)
        b = data[pos]
        pos += 1
        if b <= 0x7f:
            return b, pos
        if b >= 0xe0:
            return b - 0x100, pos
        if 0x80 <= b <= 0x8f:
            return seq(pos, b & 0x0f, True)
        if 0x90 <= b <= 0x9f:
            return seq(pos, b & 0x0f, False)
        if 0xa0 <= b <= 0xbf:
            s, pos = raw(pos, b & 0x1f)
            return s.decode("utf-8", "surrogateescape"), pos
        if b in (0xc0, 0xc2, 0xc3):
            return {0xc0: None, 0xc2: False, 0xc3: True}[b], pos
        if b in (0xc4, 0xc5, 0xc6):
            n, pos = uint(pos, {0xc4: 1, 0xc5: 2, 0xc6: 4}[b])
            return raw(pos, n)
        if b == 0xca:
            need(pos, 4)
            return struct.unpack(">f", data[pos:pos + 4])[0], pos + 4
        if b == 0xcb:
            need(pos, 8)
            return struct.unpack(">d", data[pos:pos + 8])[0], pos + 8
        if 0xcc <= b <= 0xcf:
            return uint(pos, 1 << (b - 0xcc))
        if 0xd0 <= b <= 0xd3:
            return sint(pos, 1 << (b - 0xd0))
        if b in (0xd9, 0xda, 0xdb):
            n, pos = uint(pos, {0xd9: 1, 0xda: 2, 0xdb: 4}[b])
            s, pos = raw(pos, n)
            return s.decode("utf-8", "surrogateescape"), pos
        if b in (0xdc, 0xdd):
            n, pos = uint(pos, 2 if b == 0xdc else 4)
            return seq(pos, n, False)
        if b in (0xde, 0xdf):
            n, pos = uint(pos, 2 if b == 0xde else 4)
            return seq(pos, n, True)
        raise ValueError("unexpected msgpack byte 0x%02x" % b)

    value, end = obj(0)
    if end != len(data):
        raise ValueError("trailing bytes")
    return value


HELLO, DATA, BYE = 1, 2, 3
EXIT_OK, EXIT_CODE, EXIT_SIGNAL = 1, 2, 3


class Message:
    def __init__(self, frame):
        doc = _msgpack_unpack(frame)
        (self.magic, self.version, self.token, self.pid, self.seq,
         self.type, self.body) = doc


class Pull:
    """A ZeroMQ PULL socket through ctypes, bound to an ipc endpoint."""
    ZMQ_PULL = 7
    ZMQ_RCVTIMEO = 27
    ZMQ_LINGER = 17

    def __init__(self, endpoint):
        name = ctypes.util.find_library("zmq") or "libzmq.so.5"
        z = self.z = ctypes.CDLL(name, use_errno=True)
        z.zmq_ctx_new.restype = ctypes.c_void_p
        z.zmq_socket.restype = ctypes.c_void_p
        z.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
        z.zmq_setsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                     ctypes.c_void_p, ctypes.c_size_t]
        z.zmq_bind.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        z.zmq_msg_init.argtypes = [ctypes.c_void_p]
        z.zmq_msg_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                   ctypes.c_int]
        z.zmq_msg_data.restype = ctypes.c_void_p
        z.zmq_msg_data.argtypes = [ctypes.c_void_p]
        z.zmq_msg_size.restype = ctypes.c_size_t
        z.zmq_msg_size.argtypes = [ctypes.c_void_p]
        z.zmq_msg_close.argtypes = [ctypes.c_void_p]
        z.zmq_close.argtypes = [ctypes.c_void_p]
        z.zmq_ctx_term.argtypes = [ctypes.c_void_p]
        self.ctx = z.zmq_ctx_new()
        self.sock = z.zmq_socket(self.ctx, self.ZMQ_PULL)
        timeout = ctypes.c_int(100)
        z.zmq_setsockopt(self.sock, self.ZMQ_RCVTIMEO,
                         ctypes.byref(timeout), ctypes.sizeof(timeout))
        if z.zmq_bind(self.sock, endpoint.encode()) != 0:
            raise OSError(ctypes.get_errno(), "zmq_bind " + endpoint)
        self.messages = []

    def poll(self):
        """Receives for up to 100 ms; returns whether a frame came."""
        msg = ctypes.create_string_buffer(64)  # sizeof(zmq_msg_t)
        self.z.zmq_msg_init(msg)
        try:
            if self.z.zmq_msg_recv(msg, self.sock, 0) < 0:
                return False
            frame = ctypes.string_at(self.z.zmq_msg_data(msg),
                                     self.z.zmq_msg_size(msg))
        finally:
            self.z.zmq_msg_close(msg)
        self.messages.append(Message(frame))
        return True

    def close(self):
        zero = ctypes.c_int(0)
        self.z.zmq_setsockopt(self.sock, self.ZMQ_LINGER,
                              ctypes.byref(zero), ctypes.sizeof(zero))
        self.z.zmq_close(self.sock)
        self.z.zmq_ctx_term(self.ctx)


class MessageTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.endpoint = "ipc://" + os.path.join(self.tmp, "pull")
        self.pull = Pull(self.endpoint)

    def tearDown(self):
        self.pull.close()
        super().tearDown()

    def run_and_receive(self, args, quiet=1.0, **extra):
        """Runs a target while receiving; returns (Run, {pid: [Message]})."""
        env = shim_env(self.endpoint, **extra)
        start = time.monotonic()
        proc = subprocess.Popen([PYTHON] + list(args), env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        # Pipes are drained by a thread so a chatty target cannot block.
        import threading
        captured = {}

        def drain():
            captured["out"], captured["err"] = proc.communicate()
        drainer = threading.Thread(target=drain)
        drainer.start()
        last = time.monotonic()
        while True:
            if self.pull.poll():
                last = time.monotonic()
            elif proc.poll() is not None and time.monotonic() - last > quiet:
                break
            if time.monotonic() - start > TIMEOUT:
                proc.kill()
                self.fail("target did not finish")
        drainer.join()
        r = Run(proc, captured["out"], captured["err"],
                time.monotonic() - start)
        by_pid = {}
        for m in self.pull.messages:
            self.assertEqual(m.magic, "mpp")
            self.assertEqual(m.token, TOKEN)
            by_pid.setdefault(m.pid, []).append(m)
        return r, by_pid

    def check_stream(self, pid, msgs):
        """Every incarnation: HELLO first, seq 0.. with no gap, BYE last,
        and every function id defined before (or in) its first use."""
        self.assertEqual([m.seq for m in msgs], list(range(len(msgs))),
                         "pid %d" % pid)
        self.assertEqual(msgs[0].type, HELLO, "pid %d" % pid)
        self.assertEqual(msgs[-1].type, BYE, "pid %d" % pid)
        self.assertTrue(all(m.type == DATA for m in msgs[1:-1]))
        defined = set()
        for m in msgs:
            if m.type != DATA:
                continue
            defined.update(f[0] for f in m.body.get("funcs", []))
            for row in m.body.get("threads", []):
                # Five columns, or seven with the thread's CPU time and
                # its part inside categories (issue 13).
                self.assertIn(len(row), (5, 7), "pid %d" % pid)
                tid, name, stats, edges, cats = row[:5]
                if len(row) == 7:
                    self.assertTrue(0 <= row[6] <= row[5], row[5:])
                for s in stats:
                    self.assertIn(s[0], defined, "pid %d" % pid)
                for e in edges:
                    self.assertIn(e[0], defined)
                    self.assertIn(e[1], defined)

    @staticmethod
    def final_calls(msgs, name):
        """ncalls of every function called `name` in one process, from the
        last value each (thread, function) reported."""
        defs = {}
        latest = {}
        for m in msgs:
            if m.type != DATA:
                continue
            for fid, file, line, fname in m.body.get("funcs", []):
                defs[fid] = fname
            for row in m.body.get("threads", []):
                tid, tname, stats, edges, cats = row[:5]
                for fid, ncalls, pcalls, tt, ct in stats:
                    latest[(tid, fid)] = ncalls
        return sum(n for (tid, fid), n in latest.items()
                   if defs.get(fid) == name)
