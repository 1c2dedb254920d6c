"""How often a Celery worker survives its Redis broker being killed and started again, side by side, three ways:
  threads pool, 4 threads: as `dev.py run` and the drills start the worker;
  prefork pool, 4 processes: as docker-compose.yml starts it;
  threads pool with the workaround the Celery issue threads suggest for workers that stop after a Redis restart
  (celery#8030, #8091: --without-gossip --without-mingle --without-heartbeat).

    .venv/bin/python -m bench.broker_restart --rounds 100

Each variant has its own throwaway Redis (spare port, no persistence) and its own worker (the app is
bench/_broker_app.py, with the portal's broker settings), and all go through the same rounds at the same moments. A round: 40 short tasks and 40 fan-out tasks queued; Redis
SIGKILLed 0.3-1.1 s later, while they run; started again 0-0.4 s after that; then a probe task. Per round and worker:
  recovered   the probe ran within 25 s;
  exited      the worker process ended (what a supervisor restarts: docker compose's restart policy, `dev.py run`);
  hung        alive, but the probe did not run within 25 s (only a liveness check would notice).
After an exit or a hang the worker is started again (killed first if hung), as a supervisor would, and the rounds go on.
What it showed is in docs/PERFORMANCE.md: a few percent of restarts end the worker (a race in kombu's Redis
transport while it closes the lost connection), so the worker must run under a supervisor that starts it again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run by its path, not as `python -m bench.<name>`: start again that way
    import _as_module

    _as_module.rerun(__file__)

from bench._common import PY, ROOT, ThrowawayRedis

WORKAROUND = ("--without-gossip", "--without-mingle", "--without-heartbeat")

PROBE_TIMEOUT = 25.0


class Variant:
    def __init__(self, name: str, flags: tuple[str, ...], work: Path) -> None:
        """`flags`: the worker's pool and options."""
        from celery import Celery

        self.name, self.flags = name, flags
        self.redis = ThrowawayRedis()
        self.port, self.url = self.redis.port, self.redis.url
        self.marks = work / f"marks-{self.port}"
        self.marks.mkdir()
        self.log = work / f"worker-{self.port}.log"
        self.worker: subprocess.Popen[bytes] | None = None
        self.producer = Celery("bench_producer", broker=self.url)
        self.counts = {"recovered": 0, "exited": 0, "hung": 0}
        self.redis.start()

    def start_worker(self) -> None:
        env = {
            **os.environ,
            "BENCH_REDIS_URL": self.url,
            "BENCH_MARK_DIR": str(self.marks),
        }
        # `python -m celery` puts its working directory, the repository root, on the import path: bench._broker_app
        cmd = [PY, "-m", "celery", "-A", "bench._broker_app", "worker", "--concurrency=4", "--loglevel=INFO"]
        cmd += ["-n", f"bench-{self.port}@%h", *self.flags]
        with open(self.log, "ab") as out:
            self.worker = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)

    def send(self, name: str, *args: object) -> None:
        for attempt in range(50):
            try:
                self.producer.send_task(name, args=list(args))
                return
            except Exception:  # the broker is coming back: try again shortly
                if attempt == 49:
                    raise
                time.sleep(0.1)

    def marked(self, name: str) -> bool:
        return (self.marks / name).exists()

    def stop(self) -> None:
        if self.worker and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait()
        self.redis.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kv-broker-restart-"))
    variants: list[Variant] = []
    try:
        for name, flags in (
            ("threads (dev.py run, drills)", ("--pool=threads",)),
            ("prefork (docker-compose.yml)", ("--pool=prefork",)),
            ("threads + the workaround", ("--pool=threads", *WORKAROUND)),
        ):
            variants.append(Variant(name, flags, work))
        for v in variants:
            v.start_worker()
            v.send("bench.mark", "ready")
        deadline = time.monotonic() + 60
        while not all(v.marked("ready") for v in variants):
            if time.monotonic() > deadline:
                raise SystemExit(f"the workers did not start (logs: {work})")
            time.sleep(0.1)
        started = time.monotonic()
        for i in range(args.rounds):
            for v in variants:
                for k in range(40):
                    v.send("bench.mark", f"busy-{i}-{k}", 0.05)
                    v.send("bench.fan_out", 3)
            time.sleep(0.3 + (i % 5) * 0.2)
            for v in variants:
                v.redis.stop()
            time.sleep(0.2 * (i % 3))
            for v in variants:
                v.redis.start()
            time.sleep(0.5)
            for v in variants:
                v.send("bench.mark", f"probe-{i}")
            deadline = time.monotonic() + PROBE_TIMEOUT
            outcome: dict[str, str] = {}
            while len(outcome) < len(variants) and time.monotonic() < deadline:
                for v in variants:
                    if v.name in outcome:
                        continue
                    if v.marked(f"probe-{i}"):
                        outcome[v.name] = "recovered"
                    elif v.worker is not None and v.worker.poll() is not None:
                        outcome[v.name] = "exited"
                time.sleep(0.1)
            line = []
            for v in variants:
                result = outcome.get(v.name, "hung")
                v.counts[result] += 1
                line.append(f"{v.name}: {result}")
                if (
                    result != "recovered"
                ):  # what a supervisor does: start it again (a hung one is killed first)
                    if v.worker is not None and v.worker.poll() is None:
                        v.worker.kill()
                        v.worker.wait()
                    v.start_worker()
            print(f"round {i + 1:3d}  " + "  ".join(line), flush=True)
        print(f"\n{args.rounds} broker restarts in {time.monotonic() - started:.0f} s (logs: {work})\n")
        print(f"{'worker started with':36} {'recovered':>10} {'exited':>8} {'hung':>6}")
        for v in variants:
            c = v.counts
            print(f"{v.name:36} {c['recovered']:>10} {c['exited']:>8} {c['hung']:>6}")
    finally:
        for v in variants:
            v.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
