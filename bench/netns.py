"""Network hosts on one machine: Linux network namespaces on a bridge (root only).

``Hosts`` creates a bridge (``lxs-br``, 10.231.0.1/24) in the root namespace and, per host,
a namespace (``lxs-<name>``) joined to it by a veth pair; the host gets the next address of
the /24 and a default route through the bridge. A process started with ``host.argv(...)``
(``ip netns exec``) has a network of its own: it reaches the root namespace's services only
at ``BRIDGE_ADDRESS``, and the root namespace reaches it only at ``host.address``.

PostgreSQL is reached through its Unix socket (the same filesystem in every namespace);
Redis listens on loopback only, so ``redis_opened`` adds the bridge address to its ``bind``
for the run (the address must exist: open it inside ``Hosts``) — and, since a Redis without
a password refuses every client that is not on loopback while ``protected-mode`` is on,
switches that off for the run too (only loopback and the bridge, which no other machine
reaches, are bound meanwhile). Both settings are put back as they were on the way out,
whatever happened.

Every namespace, veth and bridge made here is removed by ``Hosts.close`` (and by
``leftovers_remove``, for a run that was killed before it could clean up).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType

PREFIX = "lxs-"
BRIDGE = "lxs-br"
SUBNET = "10.231.0"
BRIDGE_ADDRESS = f"{SUBNET}.1"
# PostgreSQL's Unix socket directory (a DATABASE_URL ?host=: django-environ keeps a
# percent-encoded host as it is, which psycopg cannot resolve)
PG_SOCKET_DIR = "/var/run/postgresql"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@dataclass(frozen=True)
class Host:
    """One network namespace: its name and its address on the bridge."""

    name: str
    address: str

    def argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host's network (the process replaces ``ip``: same pid)."""
        return ["ip", "netns", "exec", self.name, *argv]


class Hosts:
    """The bridge and the namespaces made so far; ``close`` removes them all."""

    def __init__(self) -> None:
        self._hosts: list[Host] = []
        _ip("link", "add", BRIDGE, "type", "bridge")
        try:
            _ip("addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE)
            _ip("link", "set", BRIDGE, "up")
        except subprocess.CalledProcessError:
            self.close()
            raise

    def add(self, name: str) -> Host:
        """A new namespace ``lxs-<name>`` (name: at most 9 characters, so the veth names
        fit Linux's 15) with the next free address on the bridge."""
        if len(name) > 9:
            raise ValueError(f"host name {name!r} is longer than 9 characters")
        host = Host(PREFIX + name, f"{SUBNET}.{len(self._hosts) + 2}")
        outside, inside = f"{host.name}h", f"{host.name}n"
        self._hosts.append(host)  # from here on, close() removes it
        _ip("netns", "add", host.name)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", host.name)
        _ip("link", "set", outside, "master", BRIDGE)
        _ip("link", "set", outside, "up")
        _ip("-n", host.name, "addr", "add", f"{host.address}/24", "dev", inside)
        _ip("-n", host.name, "link", "set", inside, "up")
        _ip("-n", host.name, "link", "set", "lo", "up")
        _ip("-n", host.name, "route", "add", "default", "via", BRIDGE_ADDRESS)
        return host

    def close(self) -> None:
        """Remove every namespace (its veth pair goes with it) and the bridge."""
        for host in reversed(self._hosts):
            _ip("netns", "delete", host.name, check=False)
            _ip("link", "delete", f"{host.name}h", check=False)  # if the move never happened
        self._hosts.clear()
        _ip("link", "delete", BRIDGE, check=False)

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def leftovers_remove() -> list[str]:
    """Remove the namespaces, veths and bridge a killed run left behind; return their
    names."""
    removed = []
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split(" ", 1)[0]
        if name.startswith(PREFIX):
            _ip("netns", "delete", name, check=False)
            removed.append(name)
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":", 2)[1].strip().split("@", 1)[0]
        if name.startswith(PREFIX):
            _ip("link", "delete", name, check=False)
            removed.append(name)
    return removed


@contextmanager
def redis_opened(url: str, address: str = BRIDGE_ADDRESS) -> Iterator[dict[str, str]]:
    """Let the namespaces reach the Redis server of ``url`` at ``address`` for the ``with``
    block (see the module docstring); yields the settings it found, which it restores."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    before = {name: str(client.config_get(name)[name]) for name in ("bind", "protected-mode")}
    try:
        client.config_set("bind", f"{before['bind']} {address}")
        client.config_set("protected-mode", "no")
        yield before
    finally:
        client.config_set("protected-mode", before["protected-mode"])
        client.config_set("bind", before["bind"])
