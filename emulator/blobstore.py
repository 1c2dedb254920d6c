"""Azurite's blob service as a child process: the blob endpoint of the emulated storage accounts.

`emulator/azurite/package.json` pins azurite 3.35.0 (the last release that runs on Node 20); `npm ci` there installs
it into `emulator/azurite/node_modules`. Started with `node <azurite-blob entry>` on 127.0.0.1 and a free port,
over HTTPS with a certificate of the emulator's CA (so clients trusting `ca.pem` trust it), `--oauth basic` (bearer
tokens from the emulator's token endpoint), one Azurite account per emulated storage account (`AZURITE_ACCOUNTS`),
telemetry off. `watchdog.js` (loaded with `--require`) ends it when the emulator's process is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "azurite"
ENTRY = (
    HERE / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
)  # package.json's `azurite-blob` bin
WATCHDOG = HERE / "watchdog.js"
START_TIMEOUT = 30.0


class AzuriteUnavailable(RuntimeError):
    """Azurite cannot run here (the message says why, in one line)."""


@dataclass(frozen=True)
class Launch:
    node: str
    entry: Path


def locate() -> Launch:
    """Node.js and the installed Azurite, or AzuriteUnavailable with the reason."""
    node = shutil.which("node")
    if node is None:
        raise AzuriteUnavailable(
            "Node.js not found: the emulator runs without Azurite, so access-log collection is off"
        )
    if not ENTRY.is_file():
        raise AzuriteUnavailable("Azurite is not installed: run npm ci in emulator/azurite")
    try:
        import azure.storage.blob  # noqa: F401  (the log writer's client)
    except ImportError:
        raise AzuriteUnavailable(
            "azure-storage-blob is not installed: the emulator cannot write access logs to Azurite"
        ) from None
    return Launch(node, ENTRY)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Azurite:
    """One running Azurite blob service."""

    def __init__(
        self,
        launch: Launch,
        *,
        accounts: dict[str, str],
        cert: Path,
        key: Path,
        data_dir: Path,
        persist: bool,
        host: str = "127.0.0.1",
    ) -> None:
        if not accounts:
            raise AzuriteUnavailable("this preset has no storage accounts")
        self.host = host
        self.port = free_port(host)
        self.log_path = data_dir / "azurite.log"
        args = [
            launch.node,
            "--require",
            str(WATCHDOG),
            str(launch.entry),
            "--blobHost",
            host,
            "--blobPort",
            str(self.port),
            "--oauth",
            "basic",
            "--cert",
            str(cert),
            "--key",
            str(key),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ]
        if persist:
            location = data_dir / "azurite"
            location.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(location)]
        else:
            args += ["--inMemoryPersistence"]
        env = dict(os.environ)
        env["AZURITE_ACCOUNTS"] = ";".join(f"{name}:{k}" for name, k in accounts.items())
        data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the terminal's Ctrl-C reaches the emulator, which stops Azurite itself
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            code = self.proc.poll()
            if code is not None:
                raise AzuriteUnavailable(f"Azurite exited with status {code} at start: {self._log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise AzuriteUnavailable(f"Azurite did not listen on {self.url} within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-3:]) or "(no output)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
