"""The broker's processes as the fault suite runs them: real OS processes, killed for real."""

import signal
import subprocess
import sys
from pathlib import Path
from typing import IO


class Service:
    """One broker process (``sgb router``, ``sgb delivery``), its output in its own log."""

    def __init__(
        self, name: str, command: str, env: dict[str, str], logs: Path, profile: bool = False,
        args: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.name, self.command, self.env, self.logs = name, command, env, logs
        self.args = args
        # Under pyinstrument, which writes its report to the logs when the process exits.
        report = ["-m", "pyinstrument", "-r", "text", "-o", str(logs / f"{name}.profile.txt")]
        self.profiler = report if profile else []
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self._close_log()
        self._log = (self.logs / f"{self.name}.log").open("ab")
        command = [sys.executable, *self.profiler, "-m", "broker.entrypoints.cli", self.command]
        self.proc = subprocess.Popen(
            [*command, *self.args],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.starts += 1

    def kill(self) -> None:
        """kill -9: no drain, no commit, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def terminate(self, timeout: float = 20) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None
        self._close_log()

    def exited(self) -> int | None:
        """The exit code of a process that stopped without being told to, else None."""
        return None if self.proc is None else self.proc.poll()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
