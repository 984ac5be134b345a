"""A sandbox in a child process for the sync benchmarks: the client is measured in the
benchmark's own process, the sandbox's CPU stays out of it.

The child runs ``target(conn, *args)``: it sends one message when it serves (its URL, a grant,
counts...), then answers what it is asked until it receives ``stop``.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from typing import Any


class SandboxProcess:
    """The child process serving a sandbox, and the pipe to it.

    Args:
        target: the child's function, ``target(conn, *args)``.
        args: its arguments after the connection.
    """

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        self._parent, child = mp.Pipe()
        self._proc = mp.get_context("fork").Process(target=target, args=(child, *args),
                                                    daemon=True)
        self._proc.start()
        child.close()  # the child's end lives in the child only: its exit ends our reads

    def answer(self) -> Any:
        """The child's next message.

        Raises:
            SystemExit: the child ended (its error was printed above).
        """
        try:
            return self._parent.recv()
        except EOFError:
            self._proc.join(5)
            raise SystemExit(f"the sandbox process ended (exit code {self._proc.exitcode}); "
                             "its error is above") from None

    def ask(self, what: str) -> Any:
        """Send ``what`` and return the child's answer."""
        self._parent.send(what)
        return self.answer()

    def stop(self) -> None:
        """Tell the child to stop, and wait for it."""
        self._parent.send("stop")
        self._proc.join(timeout=30)
