"""Smoke test of `python3 dev.py run` exactly as the README writes it.

Starts it, waits for the printed URL, signs in over HTTP as the demo admin, sees the portal chrome, kills the Celery
worker (as a broker failure can end it) and sees it started again, sends Ctrl-C (SIGINT) to it, and checks that every
process it started has exited.
"""

from __future__ import annotations

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


def main() -> int:
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "smoke-run.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        RUN.group(1).split(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = None
    deadline = time.monotonic() + 600
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(line)
        match = re.search(r"The portal is running at (http://\S+)", line)
        if match:
            url = match.group(1)
            break
        if time.monotonic() > deadline:
            break
    if url is None:
        proc.kill()
        print((ROOT / "var" / "smoke-run.log").read_text()[-5000:])
        return 1
    print(f"run printed {url}")
    drain = threading.Thread(target=lambda: log.writelines(proc.stdout), daemon=True)
    drain.start()
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
    killed = celery_worker(proc.pid)
    assert killed is not None, "no Celery worker runs"
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while (worker := celery_worker(proc.pid)) in (None, killed):
        if time.monotonic() > deadline or proc.poll() is not None:
            print("the killed worker was not started again within 60 s")
            proc.kill()
            return 1
        time.sleep(0.2)
    print(f"killed the worker (pid {killed}); run started a new one (pid {worker})")
    started = descendants(proc.pid)
    print(f"run started {len(started)} processes; sending SIGINT")
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
        drain.join(timeout=10)
    except subprocess.TimeoutExpired:
        print("run did not exit within 60 s of Ctrl-C")
        return 1
    time.sleep(1)
    left = [pid for pid in started if alive(pid)]
    if left:
        print(f"processes still running after Ctrl-C: {left}")
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return 1
    print(f"run exited with {proc.returncode}; all {len(started)} processes it started have exited")
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
