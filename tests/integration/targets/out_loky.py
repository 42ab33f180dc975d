"""joblib's default backend (loky): workers forked, every descriptor
closed, then exec'd (issue 12, item 2)."""
from joblib import Parallel, delayed


def f(i):
    return i * i


if __name__ == "__main__":
    print(sum(Parallel(n_jobs=2)(delayed(f)(i) for i in range(1000))))
