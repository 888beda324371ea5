"""Free loopback ports, for the local servers and the tests that start their own."""

import contextlib
import socket

HOST = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """Ask the OS for ``count`` distinct free loopback ports (held open together, then freed)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def free_port() -> int:
    """One free loopback port."""
    return free_ports(1)[0]
