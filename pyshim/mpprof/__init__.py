"""mpprof's in-process side: the C collector lives in mpprof._collector."""


def load_ipython_extension(ip):
    # `%load_ext mpprof` calls this.  Every profiled process imports this
    # package, so the magic (and IPython) is only imported when asked for.
    from mpprof import magic

    magic.load_ipython_extension(ip)
