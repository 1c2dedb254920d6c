"""Azure keeps its state across restarts, so the emulator does too: a snapshot in the data dir.

`<data dir>/state-<preset>-seed<S>[-alerts<N>].json` (orjson) holds what clients changed on top of the seeded world:
each subscription's changed seeded alerts, appended alerts, removed (and held-back) sequence numbers, plans,
security contacts, suppression rules, vault diagnostic settings, the clock offset and the generator counter. It names the world it applies
to (preset, seed, alert count, anchor); on start the world is rebuilt from the seed and the snapshot applied on top.
The scale preset keeps only its overlay, so the snapshot (like memory) grows with the changes, not the alerts.

Writes are debounced (a background thread, `DEBOUNCE` seconds after a change) and atomic (temp file, fsync,
rename); `stop()` (the CLI's SIGTERM / SIGINT) writes what is pending. Not kept: tokens, faults, the request log,
throttle buckets, simulate operations. `POST /_emulator/reset` deletes the snapshot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .contacts import Contact
from .diagnostics import DiagnosticSetting
from .presets import DEFAULT_SCALE_ALERTS
from .pricing import PricingPlan
from .state import AlertRecord, EmulatorState
from .suppression import Rule

FORMAT = "kv-emulator-state"
VERSION = 1
DEBOUNCE = 1.0  # seconds between a change and its write (changes in the meantime go in the same write)


class SnapshotMismatch(ValueError):
    """The snapshot is of another world (preset, seed, alert count or anchor) or not a snapshot at all."""


@dataclasses.dataclass(frozen=True)
class World:
    """What a snapshot applies to: the seeded world's identity."""

    preset: str
    seed: int
    alerts: int | None  # scale: the number of generated alerts; demo: None

    def describe(self) -> str:
        return f"preset {self.preset}, seed {self.seed}" + (
            f", {self.alerts} alerts" if self.alerts is not None else ""
        )


def world_of(preset: str, seed: int, alerts: int | None) -> World:
    if preset not in ("scale", "fleet", "lighthouse"):
        return World(preset, seed, None)
    return World(preset, seed, alerts if alerts is not None else DEFAULT_SCALE_ALERTS)


def snapshot_path(data_dir: Path, world: World) -> Path:
    tail = f"-alerts{world.alerts}" if world.alerts is not None else ""
    return Path(data_dir) / f"state-{world.preset}-seed{world.seed}{tail}.json"


def _time(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- dump ---------------------------------------------------------------------------------------------
def dump(state: EmulatorState, world: World, anchor: dt.datetime) -> bytes:
    """The snapshot of `state` (hold `state.lock`: alert documents are serialised as they are)."""
    alerts: dict[str, Any] = {}
    for sid, store in state.alerts.items():
        alerts[sid] = {
            "seeded": store.seeded,
            "changed": {str(seq): store.doc_at(seq) for seq in sorted(store.touched)},
            "appended": [store.doc_at(seq) for seq in range(store.seeded, store.next_seq)],
            "removed": sorted(store.removed),
            "held": sorted(store.held),
        }
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "preset": world.preset,
        "seed": world.seed,
        "alert_count": world.alerts,
        "anchor": anchor.isoformat(),
        "saved_at": dt.datetime.now(dt.UTC).isoformat(),
        "clock_offset_seconds": state.clock.offset_seconds,
        "gen_counter": state.gen_counter,
        "alerts": alerts,
        "pricings": {
            sid: [
                {
                    **dataclasses.asdict(p),
                    "enablement_time": _iso(p.enablement_time),
                    "trial_end": _iso(p.trial_end),
                }
                for p in plans.values()
            ]
            for sid, plans in state.pricings.items()
        },
        "contacts": {sid: dataclasses.asdict(c) for sid, c in state.contacts.items() if c is not None},
        "rules": {
            sid: [
                {
                    **dataclasses.asdict(r),
                    "last_modified": _iso(r.last_modified),
                    "expiration": _iso(r.expiration),
                }
                for r in rules.values()
            ]
            for sid, rules in state.rules.items()
        },
        "diagnostic_settings": {
            vault: [dataclasses.asdict(s) for s in settings.values()]
            for vault, settings in state.diagnostic_settings.items()
        },
    }
    return orjson.dumps(doc)


# -- load ---------------------------------------------------------------------------------------------
def read(path: Path) -> dict[str, Any] | None:
    """The snapshot at `path`, None when there is none; a file that is not one is reported and skipped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        _say(f"{path} not loaded: {exc}")
        return None
    try:
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise SnapshotMismatch(f"not a version-{VERSION} emulator state snapshot")
        dt.datetime.fromisoformat(doc["anchor"])
    except (orjson.JSONDecodeError, SnapshotMismatch, KeyError, TypeError, ValueError) as exc:
        _say(f"{path} not loaded: {exc}. Starting from the seed; the file is replaced at the next change.")
        return None
    return doc


def saved_anchor(doc: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(doc["anchor"])


def check(doc: dict[str, Any], world: World, anchor: dt.datetime) -> None:
    """Raise SnapshotMismatch unless the snapshot was written for this world (and its anchor)."""
    saved = World(str(doc.get("preset")), doc.get("seed"), doc.get("alert_count"))
    if saved != world:
        raise SnapshotMismatch(
            f"it holds the state of {saved.describe()}; this emulator runs {world.describe()}"
        )
    if saved_anchor(doc) != anchor:
        raise SnapshotMismatch(
            f"its world was generated relative to {doc['anchor']}, this one relative to {anchor.isoformat()}"
        )


def apply(doc: dict[str, Any], state: EmulatorState) -> None:
    """Put the snapshot's changes on a freshly seeded `state` (raises SnapshotMismatch if they do not fit it)."""
    if set(doc["alerts"]) != set(state.alerts):
        raise SnapshotMismatch("its subscriptions are not this world's")
    for sid, saved in doc["alerts"].items():
        store = state.alerts[sid]
        if saved["seeded"] != store.seeded:
            raise SnapshotMismatch(
                f"subscription {sid} was seeded with {saved['seeded']} alerts, not {store.seeded}"
            )
        for key, alert in saved["changed"].items():
            seq = int(key)
            if not 0 <= seq < store.seeded:
                raise SnapshotMismatch(f"alert #{seq} is not a seeded alert of subscription {sid}")
            if seq < store.base:  # generated (scale): the overlay holds it
                store.overlay[seq] = AlertRecord(seq, alert)
            else:
                rec = store.records[seq - store.base]
                if rec.doc["id"] != alert["id"]:
                    raise SnapshotMismatch(f"alert #{seq} of subscription {sid} is another alert")
                rec.doc = alert
                rec.changed()
            store.touched.add(seq)
        for alert in saved["appended"]:
            store.append(alert)
        store.removed = set(saved["removed"])
        store.held = set(saved["held"])
    state.pricings = {
        sid: {
            p["name"]: PricingPlan(
                **{**p, "enablement_time": _time(p["enablement_time"]), "trial_end": _time(p["trial_end"])}
            )
            for p in plans
        }
        for sid, plans in doc["pricings"].items()
    }
    state.contacts = {sid: Contact(**c) for sid, c in doc["contacts"].items()}
    state.rules = {sid: {} for sid in state.subscriptions}
    for sid, rules in doc["rules"].items():
        state.rules[sid] = {
            r["name"].lower(): Rule(
                **{**r, "last_modified": _time(r["last_modified"]), "expiration": _time(r["expiration"])}
            )
            for r in rules
        }
    state.diagnostic_settings = {}
    for vault, settings in doc.get("diagnostic_settings", {}).items():  # absent in snapshots older than them
        if state.vault_by_id(vault) is None:
            raise SnapshotMismatch(f"diagnostic settings of '{vault}', which is not a vault of this world")
        state.diagnostic_settings[vault] = {s["name"].lower(): DiagnosticSetting(**s) for s in settings}
    state.gen_counter = int(doc["gen_counter"])
    state.clock.set_offset(float(doc["clock_offset_seconds"]))


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # the rename itself, on file systems that allow it
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _say(message: str) -> None:
    print(f"emulator: {message}", file=sys.stderr, flush=True)


class Persister:
    """Writes the snapshot after changes (debounced, in a background thread) and on stop."""

    def __init__(
        self, path: Path, dump_state: Callable[[], bytes], lock: Any, debounce: float = DEBOUNCE
    ) -> None:
        self.path = path
        self._dump = dump_state  # called with the state lock held
        self._state_lock = lock
        self.debounce = debounce
        self._cond = threading.Condition()
        self._pending = False
        self._stopping = False
        self._write_lock = threading.Lock()  # one write at a time; a reset waits for a write in progress
        self._thread: threading.Thread | None = None
        self.writes = 0

    def start(self) -> None:
        with self._cond:
            self._stopping = False
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="emulator-state", daemon=True)
            self._thread.start()

    def changed(self) -> None:
        """The state changed: write it soon."""
        with self._cond:
            self._pending = True
            self._cond.notify()

    def flush(self) -> None:
        """Write now if anything is pending."""
        with self._write_lock:
            with self._cond:
                if not self._pending:
                    return
                self._pending = False
            with self._state_lock:
                data = self._dump()
            try:
                atomic_write(self.path, data)
                self.writes += 1
            except OSError as exc:
                _say(f"could not save the state to {self.path}: {exc}")
                with self._cond:
                    self._pending = True

    def discard(self, reset: Callable[[], None]) -> None:
        """Run `reset` (back to the seed), forget pending writes and delete the snapshot."""
        with self._write_lock:
            reset()
            with self._cond:
                self._pending = False
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def stop(self) -> None:
        """Stop the writer thread and write what is pending."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
                self._cond.wait_for(lambda: self._stopping, timeout=self.debounce)  # let changes gather
                if self._stopping:
                    return
            self.flush()
