"""`python -m emulator --port PORT --preset demo|scale|fleet|lighthouse [--alerts N] [--seed S] [--data-dir DIR]
[--page-size N] [--throttle] [--fresh] [--no-persist] [--storage auto|azurite|off] [--log-interval S]
[--attack-interval S]`: start the emulator (and Azurite, see accesslogs.py), print the portal's environment, serve
until SIGINT/SIGTERM (which save Azure's state in the data dir first, see persist.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from . import persist
from .blobstore import AzuriteUnavailable
from .server import EmulatorServer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--public-host",
        default=None,
        help="host name clients use (printed URLs and the certificate's SAN); default 127.0.0.1",
    )
    p.add_argument("--preset", choices=("demo", "scale", "fleet", "lighthouse"), default="demo")
    p.add_argument(
        "--alerts",
        type=int,
        default=None,
        help="scale preset: number of alerts (max 1,000,000); fleet, lighthouse: alerts per subscription (200, "
        "2,000 of them)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data-dir", type=Path, default=Path("var/emulator"))
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--throttle", action="store_true", help="answer 429 when ARM's token buckets run dry")
    p.add_argument("--control-token", default=None, help="fixed control API token (default: random)")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start over: generate the world relative to now, not to the anchor kept in the data dir (see "
        "_anchor), and discard the saved state",
    )
    p.add_argument(
        "--no-persist",
        action="store_true",
        help="neither load nor save Azure's state in the data dir (see persist.py); a restart starts from the seed",
    )
    p.add_argument(
        "--storage",
        choices=("auto", "azurite", "off"),
        default="auto",
        help="the blob service of the storage accounts (access logs): auto starts Azurite when Node.js and "
        "emulator/azurite/node_modules are there, else runs without (printing ACCESS_LOGS_UNAVAILABLE); azurite "
        "fails the start without them; off never starts it",
    )
    p.add_argument(
        "--log-interval",
        type=float,
        default=10.0,
        help="seconds between two appends of Key Vault AuditEvent logs to storage (0 = no background writer)",
    )
    p.add_argument(
        "--attack-interval",
        type=float,
        default=300.0,
        help="mean seconds between two attacks in a collected vault's logs (0 = none)",
    )
    return p


ANCHOR_MAX_AGE = dt.timedelta(days=7)


def _anchor(data_dir: Path, fresh: bool, snapshot: Path | None) -> dt.datetime:
    """The time the seeded world is generated relative to, kept in the data dir so that a restart serves the same
    alerts (same ids and times) instead of a new world; renewed when older than a week (unless state is saved for
    it, in `snapshot`: Azure keeps its alerts however old) or with --fresh (which discards the saved state)."""
    path = data_dir / "anchor"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if fresh and snapshot is not None:
        snapshot.unlink(missing_ok=True)
    if not fresh and path.exists():
        try:
            anchor = dt.datetime.fromisoformat(path.read_text().strip())
            kept = snapshot is not None and snapshot.exists()
            if anchor <= now and (kept or now - ANCHOR_MAX_AGE < anchor):
                return anchor
        except ValueError:
            pass
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(now.isoformat())
    return now


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    snapshot = None
    if not args.no_persist:
        snapshot = persist.snapshot_path(args.data_dir, persist.world_of(args.preset, args.seed, args.alerts))
    try:
        srv = EmulatorServer(
            preset=args.preset,
            seed=args.seed,
            port=args.port,
            host=args.host,
            data_dir=args.data_dir,
            page_size=args.page_size,
            throttle=args.throttle,
            alerts=args.alerts,
            public_host=args.public_host,
            control_token=args.control_token,
            start_time=_anchor(args.data_dir, args.fresh, snapshot),
            persist_state=not args.no_persist,
            storage=args.storage,
            log_interval=args.log_interval if args.log_interval > 0 else 10.0,
            attack_interval=max(args.attack_interval, 0.0),
            log_writer=args.log_interval > 0,
        ).start()
    except (ValueError, OSError, AzuriteUnavailable) as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=srv.stop, name="emulator-stop", daemon=True).start()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    for key, value in srv.env.items():
        print(f"{key}={value}")
    print("EMULATOR_READY=1", flush=True)
    srv.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
