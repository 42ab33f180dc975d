"""Simulated hosts for the multi-host tests: network namespaces on a
bridge, made with iproute2's `ip` (root only).

    with Hosts(3) as hosts:        # hosts.ip[k], hosts.exec(k, argv)
        hosts.cut(2)               # takes host 2's link down

Every namespace, veth and the bridge carry a name unique to this process,
and are removed on exit from the `with`, whatever happened; a namespace
left over by a killed run of the same pid is removed first.
"""

import os
import subprocess


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True,
                          text=True, check=check, timeout=30)


def unavailable():
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        r = _ip("netns", "list", check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return "iproute2's ip cannot run: %s" % e
    if r.returncode != 0:
        return "ip netns does not work here: %s" % r.stderr.strip()
    return None


class Hosts:
    def __init__(self, n, subnet=None):
        tag = "%x" % (os.getpid() & 0xfffff)
        self.n = n
        self.bridge = "mppbr" + tag
        self.ns = ["mpp%s-h%d" % (tag, k) for k in range(n)]
        self.veth = ["mppv%s%d" % (tag, k) for k in range(n)]
        third = (os.getpid() % 200) + 20
        self.prefix = subnet or "10.231.%d" % third
        self.gateway = self.prefix + ".1"
        self.ip = ["%s.%d" % (self.prefix, 10 + k) for k in range(n)]

    def __enter__(self):
        try:
            self._make()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _make(self):
        self.close()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", self.gateway + "/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for k in range(self.n):
            ns, veth, peer = self.ns[k], self.veth[k], self.veth[k] + "p"
            _ip("netns", "add", ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", ns)
            _ip("link", "set", veth, "master", self.bridge)
            _ip("link", "set", veth, "up")
            _ip("-n", ns, "addr", "add", self.ip[k] + "/24", "dev", peer)
            _ip("-n", ns, "link", "set", peer, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", "default", "via", self.gateway)

    def argv(self, k, argv):
        """ARGV run inside host k's namespace."""
        return ["ip", "netns", "exec", self.ns[k]] + list(argv)

    def cut(self, k):
        """Takes host k's link down, as a pulled cable would."""
        _ip("link", "set", self.veth[k], "down")

    def restore(self, k):
        """Brings host k's link back up."""
        _ip("link", "set", self.veth[k], "up")

    def close(self):
        for k in range(self.n):
            _ip("netns", "delete", self.ns[k], check=False)
            _ip("link", "delete", self.veth[k], check=False)
        _ip("link", "delete", self.bridge, check=False)
