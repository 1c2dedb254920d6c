"""Key Vault AuditEvent logs in Azurite: one emulator with Azurite for the module (starting Node costs a second or
so), diagnostic settings over ARM, appends through the control API, read back with azure-storage-blob and a bearer
token from the emulator's token endpoint (not the account key).

Skipped without Node.js or `emulator/azurite/node_modules` (`npm ci` in emulator/azurite); failed instead when
REQUIRE_SERVICES=1."""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential

from emulator.accesslogs import CONTAINER, TOR_ADDRESSES, blob_name
from emulator.blobstore import AzuriteUnavailable, locate
from emulator.server import EmulatorServer
from emulator.state import Vault

from .conftest import Http, make_credential

try:
    from azure.storage.blob import ContainerClient
except ImportError:  # pragma: no cover - the reason is given by locate()
    ContainerClient = None  # type: ignore[assignment,misc]

DIAG = "api-version=2021-05-01-preview"


def _require_azurite() -> None:
    try:
        locate()
    except AzuriteUnavailable as exc:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 but Azurite cannot run: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def azemu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    _require_azurite()
    srv = EmulatorServer(
        preset="demo",
        data_dir=tmp_path_factory.mktemp("emulator-azurite"),
        storage="azurite",
        persist_state=False,
    )
    with srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh(azemu: EmulatorServer) -> None:
    azemu.runtime.reset()  # also deletes every account's insights-logs-auditevent container


@pytest.fixture(scope="module")
def conn(azemu: EmulatorServer) -> dict[str, Any]:
    return azemu.connections[0]


@pytest.fixture(scope="module")
def cred(azemu: EmulatorServer, conn: dict[str, Any]) -> ClientSecretCredential:
    return make_credential(azemu, conn)


@pytest.fixture
def http(azemu: EmulatorServer, cred: ClientSecretCredential) -> Http:
    return Http(azemu, cred.get_token("https://management.azure.com/.default").token)


def _collect(
    http: Http, azemu: EmulatorServer, conn: dict[str, Any], index: int = 0
) -> tuple[Vault, dict[str, str]]:
    """PUT a diagnostic setting sending a Production vault's AuditEvent to the storage account of its region."""
    sub = conn["subscription_ids"][0]
    vault = azemu.state.vaults[sub.lower()][index]
    account = next(a for a in azemu.state.storage_accounts[sub.lower()] if a.location == vault.location)
    body = {
        "properties": {"storageAccountId": account.id, "logs": [{"category": "AuditEvent", "enabled": True}]}
    }
    r = http.arm(
        "PUT", f"{vault.id}/providers/Microsoft.Insights/diagnosticSettings/kvlogs?{DIAG}", json=body
    )
    assert r.status_code == 200, r.text
    return vault, azemu.storage_account(account.name)


def _container(azemu: EmulatorServer, account: dict[str, str], credential: Any) -> Any:
    return ContainerClient(
        account_url=account["blob_endpoint"],
        container_name=CONTAINER,
        credential=credential,
        connection_verify=str(azemu.ca_path),
    )


def _records(data: bytes) -> list[dict[str, Any]]:
    assert data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]


def test_endpoints_point_at_azurite(http: Http, azemu: EmulatorServer, conn: dict[str, Any]) -> None:
    assert "ACCESS_LOGS_UNAVAILABLE" not in azemu.env
    port = azemu.access_logs.azurite.port  # type: ignore[union-attr]
    sub = conn["subscription_ids"][0]
    listed = http.arm(
        "GET", f"/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts?api-version=2023-05-01"
    )
    for a in listed.json()["value"]:
        assert a["properties"]["primaryEndpoints"]["blob"] == f"https://127.0.0.1:{port}/{a['name']}/"


def test_append_and_read_back_with_a_bearer_token(
    http: Http, azemu: EmulatorServer, conn: dict[str, Any], cred: ClientSecretCredential
) -> None:
    vault = azemu.state.vaults[conn["subscription_ids"][0].lower()][0]
    refused = http.control("POST", "/accesslogs/append", json={"vault": vault.id, "scenario": "usual"})
    assert refused.status_code == 409 and "no diagnostic setting" in refused.json()["error"]["message"]
    vault, account = _collect(http, azemu, conn)
    first = http.control(
        "POST", "/accesslogs/append", json={"vault": vault.name, "scenario": "usual", "count": 4}
    )
    assert first.status_code == 200, first.text
    split = http.control(
        "POST", "/accesslogs/append", json={"vault": vault.id, "scenario": "usual", "count": 3, "split": True}
    ).json()
    assert split["records"] == 3 and split["blob"] == first.json()["blob"]
    name = split["blob"]
    assert name == blob_name(vault.id, azemu.state.clock.now())
    assert name.startswith(f"resourceId={vault.id.upper()}/y=") and name.endswith("/m=00/PT1H.json")

    container = _container(azemu, account, cred)
    blobs = list(container.list_blobs(name_starts_with=f"resourceId={vault.id.upper()}/"))
    assert [b.name for b in blobs] == [name]
    total = first.json()["appended_bytes"] + split["appended_bytes"]
    assert blobs[0].size == total and blobs[0].blob_type == "AppendBlob"
    whole = container.download_blob(name).readall()
    records = _records(whole)
    assert len(records) == 7
    rec = records[0]
    assert rec["category"] == "AuditEvent" and rec["operationVersion"] == "7.4"
    assert rec["resourceId"] == vault.id.upper() and rec["operationName"] == "SecretGet"
    assert (
        rec["resultType"] == "Success" and rec["resultSignature"] == "OK" and rec["resultDescription"] == ""
    )
    assert (
        isinstance(rec["durationMs"], str)
        and rec["time"].endswith("Z")
        and len(rec["time"].split(".")[1]) == 8
    )
    claim = rec["identity"]["claim"]
    assert set(claim) >= {"http://schemas.microsoft.com/identity/claims/objectidentifier", "appid"}
    assert rec["properties"]["requestUri"].startswith(f"https://{vault.name}.vault.azure.net/secrets/")
    assert rec["properties"]["requestUri"].endswith("?api-version=7.4")
    assert rec["properties"]["httpStatusCode"] == 200
    offset = first.json()["appended_bytes"]
    tail = container.download_blob(name, offset=offset).readall()
    assert tail == whole[offset:] and len(_records(tail)) == 3


def test_tokens_azurite_refuses(
    http: Http, azemu: EmulatorServer, conn: dict[str, Any], cred: ClientSecretCredential
) -> None:
    vault, account = _collect(http, azemu, conn)
    http.control("POST", "/accesslogs/append", json={"vault": vault.name, "scenario": "usual", "count": 1})

    class Fixed:
        def __init__(self, token: str) -> None:
            self.token = token

        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken(self.token, int(time.time()) + 3600)

    def b64(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")

    now = int(time.time())
    v2 = {
        "aud": "https://storage.azure.com",
        "iss": f"https://login.microsoftonline.com/{conn['tenant_id']}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    v2_token = f"{b64({'typ': 'JWT', 'alg': 'HS256'})}.{b64(v2)}.c2ln"
    arm_token = cred.get_token("https://management.azure.com/.default").token
    for token in (v2_token, arm_token):
        with pytest.raises((ClientAuthenticationError, HttpResponseError)):
            list(_container(azemu, account, Fixed(token)).list_blobs())


def test_attack_scenarios(
    http: Http, azemu: EmulatorServer, conn: dict[str, Any], cred: ClientSecretCredential
) -> None:
    vault, account = _collect(http, azemu, conn)
    container = _container(azemu, account, cred)
    seen: dict[str, list[dict[str, Any]]] = {}
    for kind in ("tor", "mass_dump", "sensitive", "denied_spray"):
        r = http.control("POST", "/accesslogs/append", json={"vault": vault.name, "scenario": kind})
        assert r.status_code == 200, r.text
        data = container.download_blob(r.json()["blob"]).readall()
        seen[kind] = _records(data)[-r.json()["records"] :]
    assert all(r["callerIpAddress"] in TOR_ADDRESSES for r in seen["tor"])

    dump = seen["mass_dump"]
    oids = {
        r["identity"]["claim"]["http://schemas.microsoft.com/identity/claims/objectidentifier"] for r in dump
    }
    times = sorted(dt.datetime.fromisoformat(r["time"][:26] + "+00:00") for r in dump)
    assert len(oids) == 1 and all(r["operationName"] == "SecretGet" for r in dump)
    assert len({r["properties"]["requestUri"] for r in dump}) >= 60
    assert times[-1] - times[0] <= dt.timedelta(minutes=3)

    sensitive = seen["sensitive"]
    assert len(sensitive) == 1 and sensitive[0]["resultType"] == "Success"
    assert sensitive[0]["operationName"] in (
        "SecretPurge",
        "KeyBackup",
        "VaultAccessPolicyChangedEventGridNotification",
    )

    spray = seen["denied_spray"]
    assert len(spray) >= 12
    assert all(r["resultType"] == "Forbidden" and r["properties"]["httpStatusCode"] == 403 for r in spray)
    spray_times = sorted(dt.datetime.fromisoformat(r["time"][:26] + "+00:00") for r in spray)
    assert spray_times[-1] - spray_times[0] <= dt.timedelta(minutes=5)
    assert len({r["identity"]["claim"]["appid"] for r in spray}) == 1


def test_raw_partial_lines_and_rewrite(
    http: Http, azemu: EmulatorServer, conn: dict[str, Any], cred: ClientSecretCredential
) -> None:
    vault, account = _collect(http, azemu, conn)
    a = http.control(
        "POST", "/accesslogs/append", json={"vault": vault.name, "lines": ['{"a":1}', "not json"]}
    )
    assert a.json()["appended_bytes"] == len(b'{"a":1}\nnot json\n')
    b = http.control("POST", "/accesslogs/append", json={"vault": vault.name, "raw": '{"a":'})
    name = b.json()["blob"]
    container = _container(azemu, account, cred)
    props = container.get_blob_client(name).get_blob_properties()
    assert container.download_blob(name).readall() == b'{"a":1}\nnot json\n{"a":'
    http.control("POST", "/accesslogs/append", json={"vault": vault.name, "raw": "2}\n"})
    assert container.download_blob(name, offset=17).readall() == b'{"a":2}\n'
    r = http.control("POST", "/accesslogs/rewrite", json={"blob": name, "raw": '{"b":1}\n'})
    assert r.status_code == 200, r.text
    after = container.get_blob_client(name).get_blob_properties()
    assert after.size == 8 and after.etag != props.etag
    assert container.download_blob(name).readall() == b'{"b":1}\n'
    missing = http.control(
        "POST", "/accesslogs/rewrite", json={"blob": name.replace("/h=", "/h=9"), "raw": "x"}
    )
    assert missing.status_code == 404


def test_background_writer_ticks(
    http: Http, azemu: EmulatorServer, conn: dict[str, Any], cred: ClientSecretCredential
) -> None:
    vault, account = _collect(http, azemu, conn)
    assert http.control("GET", "/accesslogs").json()["writer_enabled"] is False  # tests: paused unless asked
    http.control("POST", "/accesslogs/writer", json={"attack_interval_seconds": 120})
    http.control("POST", "/accesslogs/tick")  # collection starts now
    http.control("POST", "/clock", json={"advance_seconds": 900})
    written = http.control("POST", "/accesslogs/tick").json()["written"]
    assert sum(written.values()) > 0
    http.control("POST", "/clock", json={"advance_seconds": 60})
    http.control("POST", "/accesslogs/tick")
    container = _container(azemu, account, cred)
    data = b"".join(
        container.download_blob(b.name).readall()
        for b in container.list_blobs(name_starts_with=f"resourceId={vault.id.upper()}/")
    )
    complete = data[: data.rfind(b"\n") + 1]  # the writer may have held back the end of a line
    records = _records(complete)
    assert len(records) > 10
    assert {r["operationName"] for r in records} >= {"SecretGet"}
    status = http.control(
        "POST", "/accesslogs/writer", json={"enabled": True, "interval_seconds": 0.2}
    ).json()
    assert status["writer_enabled"] is True and status["sinks"][0]["vault"] == vault.id
    before = azemu.access_logs.ticks
    deadline = time.monotonic() + 10
    while azemu.access_logs.ticks < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    http.control("POST", "/accesslogs/writer", json={"enabled": False, "interval_seconds": 10})
    assert azemu.access_logs.ticks >= before + 2


def test_writer_output_over_hours_is_json_lines(
    http: Http, azemu: EmulatorServer, conn: dict[str, Any], cred: ClientSecretCredential
) -> None:
    """Uneven appends, held-back line ends and late records: every blob but the newest ends with a whole line, and
    every whole line is a record."""
    vault, account = _collect(http, azemu, conn, index=1)
    http.control("POST", "/accesslogs/writer", json={"attack_interval_seconds": 600})
    http.control("POST", "/accesslogs/tick")
    for _ in range(16):
        http.control("POST", "/clock", json={"advance_seconds": 450})
        http.control("POST", "/accesslogs/tick")
    container = _container(azemu, account, cred)
    blobs = sorted(b.name for b in container.list_blobs(name_starts_with=f"resourceId={vault.id.upper()}/"))
    assert len(blobs) >= 2  # two hours at least
    total = 0
    for n, name in enumerate(blobs):
        data = container.download_blob(name).readall()
        if n < len(blobs) - 1:
            assert data.endswith(b"\n"), name
        records = _records(data[: data.rfind(b"\n") + 1])
        assert all(r["resourceId"] == vault.id.upper() for r in records)
        total += len(records)
    assert total > 100


def test_stop_ends_azurite(tmp_path: Path) -> None:
    _require_azurite()
    srv = EmulatorServer(preset="demo", data_dir=tmp_path, storage="azurite", persist_state=False).start()
    azurite = srv.access_logs.azurite
    assert azurite is not None and azurite.proc.poll() is None
    srv.stop()
    assert azurite.proc.poll() is not None
