"""Run the real `sequelwatch` command on a fake network that never leaves 127.0.0.0/8.

    python -m tests.crawler.fakenet NETWORK.json [sequelwatch arguments...]

NETWORK.json holds:

    names   host name -> a list of answers, each a list of addresses. Each lookup of the
            name takes the next answer and the last one repeats, so a name can change its
            answer between the guard's check and the connection (DNS rebinding).
    routes  address -> "127.0.0.1:PORT": a connection to that (public-looking) address,
            on any port, reaches the loopback server at PORT instead.
    log     a file that gets one line per connection attempt: "HOST PORT routed|loopback|refused".

Before anything else is imported, this process's name lookups (getaddrinfo,
gethostbyname and friends) answer from the table, and every connection is fenced: a
routed address goes to its loopback server, an address in 127.0.0.0/8 is left alone, and
anything else is refused (and logged). Numeric hosts are still read by the system, with
AI_NUMERICHOST, so odd spellings such as 2130706433 mean what they mean in production,
and no DNS query is ever sent; datagrams (sendto) are fenced like connections. So the
crawler under test sees a world of public and internal addresses, while nothing it does,
guard or no guard, can reach beyond 127.0.0.0/8. This lives in the tests only:
production code has no hook for it.
"""

from __future__ import annotations

import _socket
import errno
import ipaddress
import json
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


class FakeNetwork:
    """The name table, the routes and the connection log of one crawl process."""

    def __init__(self, names: dict[str, list[list[str]]], routes: dict[str, str], log: Path):
        self.names = {name.lower(): list(answers) for name, answers in names.items()}
        self.routes = {
            address: (host, int(port))
            for address, (host, _, port) in ((a, r.partition(":")) for a, r in routes.items())
        }
        self.log = log
        self.lock = threading.Lock()

    def lookup(self, host: str) -> list[str] | None:
        """The next answer for a name in the table, or None for names it does not hold."""
        with self.lock:
            answers = self.names.get(host.lower().rstrip("."))
            if answers is None:
                return None
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def fence(self, address: Any) -> Any:
        """Where a connection to address really goes; OSError when it would leave loopback."""
        if not isinstance(address, tuple):  # a Unix socket path
            return address
        host, port = address[0], address[1]
        try:
            ip = ipaddress.ip_address(str(host).partition("%")[0])
        except ValueError:  # connect(("name", port)) resolves inside C: not through here
            self._note(host, port, "refused")
            raise ConnectionRefusedError(errno.ECONNREFUSED, "fakenet: connect by name") from None
        if str(ip) in self.routes:
            self._note(host, port, "routed")
            return self.routes[str(ip)]
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip
        if mapped is not None and mapped in LOOPBACK:
            self._note(host, port, "loopback")
            return address
        self._note(host, port, "refused")
        raise ConnectionRefusedError(errno.ECONNREFUSED, f"fakenet: {host} is off limits")

    def _note(self, host: Any, port: Any, outcome: str) -> None:
        """Append one connection attempt to the log."""
        with self.lock, self.log.open("a", encoding="utf-8") as handle:
            handle.write(f"{host} {port} {outcome}\n")


def install(network: FakeNetwork) -> None:
    """Replace the socket module's lookups and fence its connections, for this process."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = _socket.socket.connect, _socket.socket.connect_ex
    real_sendto = _socket.socket.sendto

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        """Names from the table; anything else only if it is numeric (no DNS query)."""
        name = host.decode() if isinstance(host, bytes) else host
        answer = network.lookup(name) if name else None
        if answer is None:
            flags |= socket.AI_NUMERICHOST
            return real_getaddrinfo(host, port, family, type, proto, flags)
        results = []
        for address in answer:
            ip = ipaddress.ip_address(address)
            fam = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            if family in (0, fam):
                number = int(port or 0)
                sockaddr = (address, number) if ip.version == 4 else (address, number, 0, 0)
                results.append((fam, type or socket.SOCK_STREAM, proto or 6, "", sockaddr))
        if not results:
            raise socket.gaierror(socket.EAI_NONAME, "fakenet: no address of that family")
        return results

    def gethostbyname(host: str) -> str:
        """The first IPv4 address getaddrinfo gives."""
        return str(getaddrinfo(host, 0, socket.AF_INET)[0][4][0])

    def gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
        """All IPv4 addresses getaddrinfo gives."""
        return host, [], [str(info[4][0]) for info in getaddrinfo(host, 0, socket.AF_INET)]

    def no_reverse(*args: Any) -> Any:
        """Reverse lookups would be DNS queries: there are none here."""
        raise socket.herror(1, "fakenet: no reverse lookups")

    def connect(self: socket.socket, address: Any) -> None:
        real_connect(self, network.fence(address))

    def connect_ex(self: socket.socket, address: Any) -> int:
        try:
            return real_connect_ex(self, network.fence(address))
        except ConnectionRefusedError:
            return errno.ECONNREFUSED

    def sendto(self: socket.socket, data: Any, *flags_and_address: Any) -> int:
        *flags, address = flags_and_address  # a datagram is fenced like a connection
        return int(real_sendto(self, data, *flags, network.fence(address)))  # type: ignore[call-overload]

    replacements: dict[str, Callable[..., Any]] = {
        "getaddrinfo": getaddrinfo,
        "gethostbyname": gethostbyname,
        "gethostbyname_ex": gethostbyname_ex,
        "gethostbyaddr": no_reverse,
        "getnameinfo": no_reverse,
    }
    for name, function in replacements.items():
        setattr(socket, name, function)
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]


def main() -> None:
    """Install the fake network, then run the sequelwatch command line."""
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    install(FakeNetwork(spec["names"], spec["routes"], Path(spec["log"])))
    sys.argv = ["sequelwatch", *sys.argv[2:]]
    from sequelwatch.cli import main as sequelwatch_main  # only now: it imports Twisted

    sequelwatch_main()


if __name__ == "__main__":
    main()
