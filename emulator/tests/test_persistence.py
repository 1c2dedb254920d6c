"""Azure keeps its state: a restart of the emulator on the same data dir keeps what clients changed."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import requests

from emulator.server import EmulatorServer
from emulator.util import parse_time

REPO = Path(__file__).resolve().parents[2]
ALERTS = "2022-01-01"
SEC = "/providers/Microsoft.Security"


class Client:
    """Plain `requests` against one running emulator (a restarted one has another port and token keys)."""

    def __init__(self, base_url: str, ca: str, control_token: str, conn: dict[str, Any]) -> None:
        self.base = base_url
        self.control_token = control_token
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = ca
        token = self.session.post(
            f"{base_url}/{conn['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": conn["client_id"],
                "client_secret": conn["client_secret"],
                "scope": "https://management.azure.com/.default",
            },
            timeout=30,
        ).json()["access_token"]
        self.auth = {"Authorization": f"Bearer {token}"}

    @classmethod
    def of(cls, srv: EmulatorServer) -> Client:
        return cls(srv.base_url, str(srv.ca_path), srv.control_token, srv.connections[0])

    def arm(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.session.request(method, f"{self.base}{path}", headers=self.auth, timeout=30, **kw)

    def control(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.control_token}"}
        return self.session.request(
            method, f"{self.base}/_emulator/{path}", headers=headers, timeout=30, **kw
        )

    def alerts(self, sub: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = f"{self.base}/subscriptions/{sub}{SEC}/alerts?api-version={ALERTS}"
        while url:
            page = self.session.get(url, headers=self.auth, timeout=30).json()
            out += page["value"]
            url = page.get("nextLink")
        return out

    def alert(self, arm_id: str) -> requests.Response:
        return self.arm("GET", f"{arm_id}?api-version={ALERTS}")

    def plan(self, sub: str, name: str) -> dict[str, Any]:
        return self.arm("GET", f"/subscriptions/{sub}{SEC}/pricings/{name}?api-version=2024-01-01").json()

    def contact(self, sub: str) -> dict[str, Any]:
        path = f"/subscriptions/{sub}{SEC}/securityContacts/default?api-version=2020-01-01-preview"
        return self.arm("GET", path).json()

    def rule(self, sub: str, name: str) -> requests.Response:
        return self.arm(
            "GET", f"/subscriptions/{sub}{SEC}/alertsSuppressionRules/{name}?api-version=2019-01-01-preview"
        )


def _server(data_dir: Path, **kw: Any) -> EmulatorServer:
    return EmulatorServer(**{"preset": "demo", "seed": 1, "port": 0, "data_dir": data_dir, **kw})


def _changes(c: Client, prod: str, dev: str) -> dict[str, str]:
    """A status change, a plan change, a contact change, a new rule, an appended and a removed alert, the clock."""
    alerts = c.alerts(prod)
    active = [a for a in alerts if a["properties"]["status"] == "Active"]
    dismissed, removed = active[0]["id"], active[1]["id"]
    assert c.arm("POST", f"{dismissed}/dismiss?api-version={ALERTS}").status_code == 204
    put = c.arm(
        "PUT",
        f"/subscriptions/{dev}{SEC}/pricings/KeyVaults?api-version=2024-01-01",
        json={"properties": {"pricingTier": "Standard", "subPlan": "PerKeyVault"}},
    )
    assert put.status_code == 200
    put = c.arm(
        "PUT",
        f"/subscriptions/{prod}{SEC}/securityContacts/default?api-version=2020-01-01-preview",
        json={
            "properties": {"emails": "kept@contoso.com", "alertNotifications": {"minimalSeverity": "High"}}
        },
    )
    assert put.status_code == 200
    put = c.arm(
        "PUT",
        f"/subscriptions/{prod}{SEC}/alertsSuppressionRules/kept-rule?api-version=2019-01-01-preview",
        json={"properties": {"alertType": "KV_TORAccess", "reason": "FalsePositive", "state": "Enabled"}},
    )
    assert put.status_code == 200
    appended = c.control("POST", "alerts", json={"subscription_id": prod, "alert_type": "KV_TORAccess"})
    assert appended.status_code == 201
    assert c.control("DELETE", "alerts", params={"id": removed}).status_code == 200
    assert c.control("POST", "clock", json={"advance_seconds": 3600}).status_code == 200
    return {"dismissed": dismissed, "removed": removed, "appended": appended.json()["ids"][0]}


def _assert_kept(c: Client, prod: str, dev: str, ids: dict[str, str], count: int) -> None:
    assert c.alert(ids["dismissed"]).json()["properties"]["status"] == "Dismissed"
    assert c.alert(ids["appended"]).status_code == 200
    assert c.alert(ids["removed"]).status_code == 404
    assert len(c.alerts(prod)) == count
    plan = c.plan(dev, "KeyVaults")["properties"]
    assert plan["pricingTier"] == "Standard" and plan["freeTrialRemainingTime"].startswith("P29D")
    contact = c.contact(prod)["properties"]
    assert contact["emails"] == "kept@contoso.com"
    assert contact["alertNotifications"]["minimalSeverity"] == "High"
    assert c.rule(prod, "kept-rule").json()["properties"]["alertType"] == "KV_TORAccess"
    assert 3600 <= c.control("GET", "clock").json()["offset_seconds"] < 3700


def _assert_seeded(c: Client, prod: str, dev: str, ids: dict[str, str], count: int) -> None:
    assert c.alert(ids["dismissed"]).json()["properties"]["status"] == "Active"
    assert c.alert(ids["appended"]).status_code == 404
    assert c.alert(ids["removed"]).status_code == 200
    assert len(c.alerts(prod)) == count
    assert c.plan(dev, "KeyVaults")["properties"]["pricingTier"] == "Free"
    assert c.contact(prod)["properties"]["emails"] != "kept@contoso.com"
    assert c.rule(prod, "kept-rule").status_code == 404
    assert c.control("GET", "clock").json()["offset_seconds"] == 0


def test_a_restart_keeps_azure_state_and_reset_clears_it(tmp_path: Path) -> None:
    with _server(tmp_path) as first:
        c = Client.of(first)
        prod, dev = first.connections[0]["subscription_ids"]
        seeded_count = len(c.alerts(prod))
        ids = _changes(c, prod, dev)
        assert len(c.alerts(prod)) == seeded_count  # one appended, one removed
        first_alert = c.alerts(prod)[0]
    with _server(tmp_path) as second:  # the same world (same anchor) with the changes on top
        c = Client.of(second)
        assert second.connections[0]["subscription_ids"] == [prod, dev]
        assert c.alerts(prod)[0] == first_alert
        _assert_kept(c, prod, dev, ids, seeded_count)
        assert c.control("POST", "reset").status_code == 200
        _assert_seeded(c, prod, dev, ids, seeded_count)
        anchor = second.runtime.anchor  # the CLI keeps it in the data dir (`anchor`)
    assert not list(tmp_path.glob("state*"))
    with _server(tmp_path, start_time=anchor) as third:  # reset cleared the snapshot: back to the seed
        _assert_seeded(Client.of(third), prod, dev, ids, seeded_count)


def test_a_snapshot_of_another_preset_or_seed_is_not_loaded(tmp_path: Path, capsys: Any) -> None:
    with _server(tmp_path) as first:
        c = Client.of(first)
        prod, dev = first.connections[0]["subscription_ids"]
        ids = _changes(c, prod, dev)
        anchor = first.runtime.anchor
    seed1 = sorted(tmp_path.glob("state*.json"))
    assert len(seed1) == 1
    with _server(tmp_path, seed=2) as other:  # another seed: another world, its own state
        c = Client.of(other)
        assert other.connections[0]["subscription_ids"] != [prod, dev]
        assert c.control("GET", "clock").json()["offset_seconds"] == 0
        statuses = {a["properties"]["status"] for a in c.alerts(other.connections[0]["subscription_ids"][0])}
        assert statuses  # served from its seed
        other_sub = other.connections[0]["subscription_ids"][0]
        c.control("POST", "alerts", json={"subscription_id": other_sub})
    with _server(tmp_path, preset="scale", alerts=50) as scale:
        assert Client.of(scale).control("GET", "clock").json()["offset_seconds"] == 0
    with _server(tmp_path) as again:  # seed 1's state is still there
        c = Client.of(again)
        _assert_kept(c, prod, dev, ids, len(c.alerts(prod)))
    # a snapshot that says it is of another seed (copied over seed 1's) is refused with a message, not applied
    seed2 = next(p for p in tmp_path.glob("state*.json") if p != seed1[0] and "scale" not in p.name)
    shutil.copy(seed2, seed1[0])
    capsys.readouterr()
    with _server(tmp_path, start_time=anchor) as refused:
        c = Client.of(refused)
        assert refused.connections[0]["subscription_ids"] == [prod, dev]
        _assert_seeded(c, prod, dev, ids, len(c.alerts(prod)))
    err = capsys.readouterr().err
    assert "not loaded" in err and "seed 2" in err and "seed 1" in err


def test_the_scale_preset_keeps_only_what_changed(tmp_path: Path) -> None:
    with _server(tmp_path, preset="scale", alerts=3000, seed=3) as first:
        c = Client.of(first)
        sub = first.connections[0]["subscription_ids"][0]
        listed = c.alerts(sub)
        changed, removed = listed[10]["id"], listed[20]["id"]
        for doc in listed[100:110]:  # reads materialise alerts; they are not state changes
            assert c.alert(doc["id"]).status_code == 200
        patch = {"id": changed, "properties": {"status": "Resolved", "severity": "High"}}
        assert c.control("PATCH", "alerts", json=patch).status_code == 200
        assert c.control("DELETE", "alerts", params={"id": removed}).status_code == 200
        appended = c.control("POST", "alerts", json={"subscription_id": sub}).json()["ids"][0]
    [path] = tmp_path.glob("state*.json")
    saved = orjson.loads(path.read_bytes())
    [store] = saved["alerts"].values()
    assert list(store["changed"]) == ["10"] and len(store["appended"]) == 1 and store["removed"] == [20]
    assert path.stat().st_size < 50_000  # not the 3000 generated alerts
    with _server(tmp_path, preset="scale", alerts=3000, seed=3) as second:
        c = Client.of(second)
        props = c.alert(changed).json()["properties"]
        assert props["status"] == "Resolved" and props["severity"] == "High"
        assert c.alert(removed).status_code == 404 and c.alert(appended).status_code == 200
        assert len(c.alerts(sub)) == len(listed)


def _cli(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--preset", "demo", "--data-dir", str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    env: dict[str, str] = {}
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        env[key] = value
        if key == "EMULATOR_READY":
            break
    return proc, env


def test_the_cli_saves_its_state_when_stopped(tmp_path: Path) -> None:
    """SIGTERM right after a change (before any debounced save) still keeps it; so does SIGINT."""
    statuses = []
    for sig in (signal.SIGTERM, signal.SIGINT, None):
        proc, env = _cli(tmp_path)
        try:
            conn = {
                "tenant_id": env["AZURE_TENANT_ID"],
                "client_id": env["AZURE_CLIENT_ID"],
                "client_secret": env["AZURE_CLIENT_SECRET"],
            }
            c = Client(
                env["AZURE_ARM_ENDPOINT"], env["REQUESTS_CA_BUNDLE"], env["EMULATOR_CONTROL_TOKEN"], conn
            )
            sub = c.arm("GET", "/subscriptions?api-version=2022-12-01").json()["value"][0]["subscriptionId"]
            alert = c.alerts(sub)[-1]
            statuses.append(alert["properties"]["status"])
            action = "resolve" if sig == signal.SIGTERM else "inProgress"
            if sig is not None:
                assert c.arm("POST", f"{alert['id']}/{action}?api-version={ALERTS}").status_code == 204
        finally:
            proc.send_signal(sig or signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
    assert statuses[1:] == ["Resolved", "InProgress"]


def test_no_demo_alert_is_later_than_the_clock_at_build_time(tmp_path: Path) -> None:
    with _server(tmp_path, seed=1) as srv:
        now = srv.state.clock.now()
        for store in srv.state.alerts.values():
            for doc in store.iter_docs():
                p = doc["properties"]
                for key in ("startTimeUtc", "endTimeUtc", "timeGeneratedUtc", "processingEndTimeUtc"):
                    assert parse_time(p[key]) <= now, (doc["id"], key, p[key], now)
        newest = max(
            parse_time(d["properties"]["timeGeneratedUtc"])
            for s in srv.state.alerts.values()
            for d in s.iter_docs()
        )
        assert now - newest < dt.timedelta(days=2)  # still recent


def test_a_change_is_saved_soon_without_a_stop(tmp_path: Path) -> None:
    """A crash loses at most the last second: the snapshot is written (atomically) shortly after a change."""
    import time

    with _server(tmp_path) as srv:
        c = Client.of(srv)
        sub = srv.connections[0]["subscription_ids"][0]
        path = tmp_path / "state-demo-seed1.json"
        assert not path.exists()  # nothing changed yet: nothing saved
        c.control("POST", "alerts", json={"subscription_id": sub})
        deadline = time.monotonic() + 10
        while not path.exists():
            assert time.monotonic() < deadline, "the state was not saved"
            time.sleep(0.05)
        saved = orjson.loads(path.read_bytes())
        assert len(saved["alerts"][sub.lower()]["appended"]) == 1
        assert not list(tmp_path.glob("*.tmp"))
