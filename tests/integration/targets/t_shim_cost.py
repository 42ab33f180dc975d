"""Prints what the shim's start-up left behind: whether sitecustomize ran
from bytecode cached beside it (a cache whose hash matches the source),
and whether the signal module was imported."""
import importlib.util
import os
import sys

mod = sys.modules.get("sitecustomize")
cached = getattr(mod, "__cached__", None)
ok = False
if cached and os.path.exists(cached) and mod.__file__.endswith(".py"):
    with open(mod.__file__, "rb") as f:
        source = f.read()
    with open(cached, "rb") as f:
        head = f.read(16)
    # A checked-hash pyc: flags 3, then the source's hash (PEP 552).
    flags = int.from_bytes(head[4:8], "little")
    ok = flags == 3 and head[8:16] == importlib.util.source_hash(source)
print("shim cached %s" % ok)
print("signal imported %s" % ("signal" in sys.modules))
