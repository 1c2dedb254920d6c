"""Smoke test of `python3 dev.py run` exactly as the README writes it.

Starts it, waits for the printed URL, signs in over HTTP as the demo admin, sees the portal chrome, kills the Celery
worker (as a broker failure can end it) and waits for a new one to be ready, sends Ctrl-C (SIGINT) to it, and checks that every
process it started has exited.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
RUN = re.search(r"^(python3 dev\.py run)$", README, re.M)
assert RUN, "the README must show the run command on a line of its own"


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def celery_worker(root: int) -> int | None:
    """The pid of the Celery worker among `root`'s descendants, if one runs."""
    for pid in descendants(root):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"celery" in argv and b"worker" in argv and alive(pid):
            return pid
    return None


class Output:
    """Everything `dev.py run` prints, read by a thread (so nothing here blocks on its pipe) into memory and the log."""

    def __init__(self, proc: subprocess.Popen[str], path: Path) -> None:
        self.lines: list[str] = []
        self.log = open(path, "w")  # noqa: SIM115 - closed in close()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)
            self.log.write(line)
            self.log.flush()

    def find(self, pattern: str) -> list[re.Match[str]]:
        return [m for line in list(self.lines) if (m := re.search(pattern, line))]

    def tail(self) -> str:
        return "".join(self.lines[-80:])

    def close(self) -> None:
        self.thread.join(timeout=10)
        self.log.close()


def wait_for(what: str, condition, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"run exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def smoke(proc: subprocess.Popen[str], out: Output) -> int:
    running_at = r"The portal is running at (http://\S+)"
    wait_for("the printed URL", lambda: out.find(running_at), proc, 600)
    url = out.find(running_at)[0].group(1)
    print(f"run printed {url}")
    session = requests.Session()
    session.trust_env = False
    page = session.get(url, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    signed_in = session.post(
        page.url,
        data={"username": "admin", "password": "kv-demo-password", "csrfmiddlewaretoken": token},
        headers={"Referer": page.url},
        timeout=30,
    )
    assert signed_in.status_code == 200 and "Sign out" in signed_in.text, signed_in.text[:2000]
    assert 'aria-label="Portal menu"' in signed_in.text
    print("signed in as admin and saw the portal chrome")

    # The worker ended (as a broker failure can end it) is started again, and the new one gets ready.
    ready = r"worker@\S+ ready\."
    wait_for("the worker to be ready", lambda: len(out.find(ready)) >= 1, proc, 120)
    killed = celery_worker(proc.pid)
    assert killed is not None, "no Celery worker runs"
    before = len(out.find(ready))
    os.kill(killed, signal.SIGKILL)
    wait_for("a new worker to be ready", lambda: len(out.find(ready)) > before, proc, 120)
    worker = celery_worker(proc.pid)
    assert worker not in (None, killed), worker
    restarts = out.find(r"\[dev\] (\w+) exited with (-?\d+); starting it again")
    assert [m.groups() for m in restarts] == [("worker", "-9")], [m.group(0) for m in restarts]
    print(f"killed the worker (pid {killed}); run started a new one (pid {worker}), which is ready")

    started = descendants(proc.pid)
    print(f"run started {len(started)} processes; sending SIGINT")
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        print("run did not exit within 60 s of Ctrl-C")
        return 1
    time.sleep(1)
    left = [pid for pid in started if alive(pid)]
    if left:
        print(f"processes still running after Ctrl-C: {left}")
        return 1
    print(f"run exited with {proc.returncode}; all {len(started)} processes it started have exited")
    return 0 if proc.returncode == 0 else 1


def main() -> int:
    (ROOT / "var").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        RUN.group(1).split(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = Output(proc, ROOT / "var" / "smoke-run.log")
    try:
        result = smoke(proc, out)
    except Exception:
        print(out.tail())
        raise
    finally:
        # whatever happened, nothing it started outlives this script (Ctrl-C first, then SIGKILL)
        everything = descendants(proc.pid) | {proc.pid}
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        for pid in everything:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        out.close()
    if result:
        print(out.tail())
    return result


if __name__ == "__main__":
    sys.exit(main())
