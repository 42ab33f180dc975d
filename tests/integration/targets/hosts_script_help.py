"""The module hosts_script.py imports from its own directory."""


def square(x):
    return x * x
