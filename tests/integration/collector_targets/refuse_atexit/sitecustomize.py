"""A sitecustomize that the shim chains to (issue 9, item 6): it makes
atexit.register refuse the collector's handler, one of the steps of
start() that can fail.  start() must then fail as a whole, before the
core says HELLO, so that "runs unprofiled" is true."""
import atexit

_register = atexit.register


def _refusing(func, *args, **kwargs):
    if getattr(func, "__module__", None) == "mpprof._collector":
        raise RuntimeError("atexit refused by the test")
    return _register(func, *args, **kwargs)


atexit.register = _refusing
