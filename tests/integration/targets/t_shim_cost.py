"""Prints what the shim's start-up left behind: whether sitecustomize ran
from bytecode cached beside it (a cache whose hash matches the source),
and whether the signal module was imported.

The shim runs the sitecustomize it shadows (Debian's Pythons ship one) as
module `sitecustomize`, so sys.modules may hold that one: the shim is then
found where the launcher put it, first on PYTHONPATH, and its cache is the
one Python's import system would take for it (the source's cache_from_source
path, valid when its checked hash matches the source)."""
import importlib.util
import os
import sys

mod = sys.modules.get("sitecustomize")
shim_dir = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]
source_path = getattr(mod, "__file__", None) or ""
cached = getattr(mod, "__cached__", None)
if shim_dir and os.path.dirname(os.path.abspath(source_path)) != \
        os.path.abspath(shim_dir):
    source_path = os.path.join(shim_dir, "sitecustomize.py")
    cached = importlib.util.cache_from_source(source_path)
ok = False
if cached and os.path.exists(cached) and source_path.endswith(".py"):
    with open(source_path, "rb") as f:
        source = f.read()
    with open(cached, "rb") as f:
        head = f.read(16)
    # A checked-hash pyc: flags 3, then the source's hash (PEP 552).
    flags = int.from_bytes(head[4:8], "little")
    ok = flags == 3 and head[8:16] == importlib.util.source_hash(source)
print("shim cached %s" % ok)
print("signal imported %s" % ("signal" in sys.modules))
