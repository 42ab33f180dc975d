"""Target of test_cli.TestRunForms: calls form_work() N times (argv[1],
default 7), then prints the count as truth and what the interpreter was
given (argv, __debug__, flags, -X and -W options), so that a test can
compare the plain run's lines with mpprof's.  argv[2], when given, is the
exit status; one line goes to stderr."""
import json
import sys


def form_work(i):
    return i * 2


def main():
    args = sys.argv[1:]
    n = int(args[0]) if args else 7
    for i in range(n):
        form_work(i)
    print("MPPTEST_TRUTH " + json.dumps({"form_work": n}))
    print(json.dumps({
        "argv": sys.argv, "debug": __debug__,
        "optimize": sys.flags.optimize,
        "dont_write_bytecode": sys.flags.dont_write_bytecode,
        "verbose": sys.flags.verbose, "xoptions": sys._xoptions,
        "warnoptions": sys.warnoptions}))
    print("t_forms stderr line", file=sys.stderr)
    return int(args[1]) if len(args) > 1 else 0


if __name__ == "__main__":
    sys.exit(main())
