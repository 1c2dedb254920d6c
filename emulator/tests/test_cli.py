"""`python -m emulator` as a subprocess: KEY=VALUE lines, one authenticated call, clean exit on SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
KEYS = [
    "AZURE_ARM_ENDPOINT",
    "AZURE_AUTHORITY_HOST",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "REQUESTS_CA_BUNDLE",
    "EMULATOR_CONTROL_URL",
    "EMULATOR_CONTROL_TOKEN",
    "ACCESS_LOGS_UNAVAILABLE",
    "EMULATOR_READY",
]


def _start(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, str], list[str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--preset",
            "demo",
            "--data-dir",
            str(data_dir),
            "--storage",
            "off",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    env: dict[str, str] = {}
    order: list[str] = []
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        env[key] = value
        order.append(key)
        if key == "EMULATOR_READY":
            break
    return proc, env, order


def test_cli_prints_env_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    proc, env, order = _start(tmp_path)
    try:
        assert order == KEYS
        assert env["AZURE_ARM_ENDPOINT"].startswith("https://127.0.0.1:")
        assert env["AZURE_AUTHORITY_HOST"] == env["AZURE_ARM_ENDPOINT"]
        assert env["EMULATOR_CONTROL_URL"] == env["AZURE_ARM_ENDPOINT"] + "/_emulator"
        assert Path(env["REQUESTS_CA_BUNDLE"]) == (tmp_path / "ca.pem").resolve()
        conns = json.loads((tmp_path / "connections.json").read_text())
        assert conns[0]["tenant_id"] == env["AZURE_TENANT_ID"] and len(conns) == 2
        session = requests.Session()
        session.trust_env = False
        session.verify = env["REQUESTS_CA_BUNDLE"]
        base = env["AZURE_ARM_ENDPOINT"]
        token = session.post(
            f"{base}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
            data={
                "client_id": env["AZURE_CLIENT_ID"],
                "client_secret": env["AZURE_CLIENT_SECRET"],
                "grant_type": "client_credentials",
                "scope": "https://management.azure.com/.default",
            },
            timeout=10,
        ).json()["access_token"]
        subs = session.get(
            f"{base}/subscriptions?api-version=2022-12-01",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert subs.status_code == 200
        listed = subs.json()["value"]
        own = conns[0]["subscription_ids"]
        assert [s["subscriptionId"] for s in listed[: len(own)]] == own
        for delegated in listed[len(own) :]:  # Lighthouse: another tenant's, managed by this one
            assert {"tenantId": conns[0]["tenant_id"]} in delegated["managedByTenants"]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    ca_before = (tmp_path / "ca.pem").read_bytes()
    proc, env, _ = _start(tmp_path)  # a second start reuses the CA
    try:
        assert (tmp_path / "ca.pem").read_bytes() == ca_before
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def _first_alert(env: dict[str, str]) -> dict:
    s = requests.Session()
    s.trust_env = False
    s.verify = env["REQUESTS_CA_BUNDLE"]
    base = env["AZURE_ARM_ENDPOINT"]
    token = s.post(
        f"{base}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": env["AZURE_CLIENT_ID"],
            "client_secret": env["AZURE_CLIENT_SECRET"],
            "scope": "https://management.azure.com/.default",
        },
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    sub = s.get(f"{base}/subscriptions?api-version=2022-12-01", headers=auth).json()["value"][0][
        "subscriptionId"
    ]
    url = f"{base}/subscriptions/{sub}/providers/Microsoft.Security/alerts?api-version=2022-01-01"
    return s.get(url, headers=auth).json()["value"][0]


def test_a_restart_on_the_same_data_dir_serves_the_same_world(tmp_path: Path) -> None:
    """The anchor time is kept in the data dir: the demo's alerts keep their ids and times across restarts."""
    firsts = []
    for _ in range(2):
        proc, env, _ = _start(tmp_path)
        try:
            firsts.append(_first_alert(env))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
    assert firsts[0]["id"] == firsts[1]["id"]
    assert firsts[0]["properties"]["timeGeneratedUtc"] == firsts[1]["properties"]["timeGeneratedUtc"]
    assert (tmp_path / "anchor").exists()
