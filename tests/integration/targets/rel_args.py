"""Prints, for each argument, its length and a digest, with its own path
and working directory as bytes (hex), so that any argument or path mpprof
mangled shows."""
import hashlib
import os
import sys


def digest(arg):
    return hashlib.sha1(os.fsencode(arg)).hexdigest()[:12]


def main():
    print("script", os.fsencode(sys.argv[0]).hex())
    print("cwd", os.fsencode(os.getcwd()).hex())
    print("argc", len(sys.argv) - 1)
    total = 0
    for arg in sys.argv[1:]:
        total += len(os.fsencode(arg))
    print("bytes", total)
    print("digest", digest("\0".join(sys.argv[1:])))


if __name__ == "__main__":
    main()
