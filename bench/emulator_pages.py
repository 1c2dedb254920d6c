"""Benchmark: how fast the emulator serves alert list pages over HTTPS.

Starts `python -m emulator` as a subprocess (scale preset, then demo), reads its KEY=VALUE lines, gets
a token with the real ClientSecretCredential, then pages through every alert of a subscription with
keep-alive `requests.Session`s following `nextLink` (one client, then N concurrent client processes).
Each page is parsed with orjson (the least a real client does). Prints alerts/s, pages/s, MB/s and
p50/p95 page latency.

    .venv/bin/python -m bench.emulator_pages [--alerts 100000] [--clients 2] [--page-size 100]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import requests
from azure.identity import ClientSecretCredential

if not __package__:  # run by its path, not as `python -m bench.<name>`: start again that way
    import _as_module

    _as_module.rerun(__file__)

from bench._common import start_emulator


@dataclass
class Run:
    alerts: int
    pages: int
    bytes: int
    seconds: float
    latencies: list[float]


def get_token(env: dict[str, str]) -> str:
    cred = ClientSecretCredential(
        env["AZURE_TENANT_ID"],
        env["AZURE_CLIENT_ID"],
        env["AZURE_CLIENT_SECRET"],
        authority=env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
        connection_verify=env["REQUESTS_CA_BUNDLE"],
    )
    return cred.get_token("https://management.azure.com/.default").token


def page_through(base: str, ca: str, token: str, subscription_id: str) -> Run:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE in the environment override .verify
    session.verify = ca
    session.headers["Authorization"] = f"Bearer {token}"
    url: str | None = (
        f"{base}/subscriptions/{subscription_id}/providers/Microsoft.Security/alerts?api-version=2022-01-01"
    )
    alerts = pages = size = 0
    latencies: list[float] = []
    started = time.perf_counter()
    while url:
        t0 = time.perf_counter()
        resp = session.get(url)
        body = resp.content
        latencies.append(time.perf_counter() - t0)
        resp.raise_for_status()
        page = orjson.loads(body)
        alerts += len(page["value"])
        pages += 1
        size += len(body)
        url = page.get("nextLink")
    return Run(alerts, pages, size, time.perf_counter() - started, latencies)


def _worker(args: tuple[str, str, str, str]) -> Run:
    return page_through(*args)


def report(label: str, runs: list[Run], wall: float) -> None:
    alerts = sum(r.alerts for r in runs)
    pages = sum(r.pages for r in runs)
    size = sum(r.bytes for r in runs)
    lat = sorted(x for r in runs for x in r.latencies)
    p50 = statistics.median(lat) * 1000
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] * 1000
    print(
        f"{label:<44} alerts={alerts:>7}  {alerts / wall:>8.0f} alerts/s  {pages / wall:>6.1f} pages/s  "
        f"{size / wall / 1e6:>6.1f} MB/s  p50={p50:.1f} ms  p95={p95:.1f} ms  ({wall:.2f} s)"
    )


def bench(preset_args: list[str], label: str, clients: int, repeat: int = 1) -> None:
    with tempfile.TemporaryDirectory(prefix="emubench-") as tmp:
        proc, env = start_emulator(Path(tmp), *preset_args)
        try:
            token = get_token(env)
            conns = json.loads((Path(tmp) / "connections.json").read_text())
            sub = conns[0]["subscription_ids"][0]
            args = (env["AZURE_ARM_ENDPOINT"], env["REQUESTS_CA_BUNDLE"], token, sub)
            page_through(*args)  # warm-up: TLS session, templates, caches
            t0 = time.perf_counter()
            runs = [page_through(*args) for _ in range(repeat)]
            report(f"{label}, 1 client", runs, time.perf_counter() - t0)
            if clients > 1:
                ctx = mp.get_context("fork")
                with ctx.Pool(clients) as pool:
                    t0 = time.perf_counter()
                    runs = pool.map(_worker, [args] * (clients * repeat))
                    wall = time.perf_counter() - t0
                report(f"{label}, {clients} concurrent clients", runs, wall)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=100_000)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument(
        "--demo-repeat", type=int, default=200, help="passes over the demo subscription (250 alerts)"
    )
    args = p.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, page size {args.page_size}")
    bench(
        ["--preset", "scale", "--alerts", str(args.alerts), "--page-size", str(args.page_size)],
        f"scale preset ({args.alerts} alerts)",
        args.clients,
    )
    bench(
        ["--preset", "demo", "--page-size", str(args.page_size)],
        "demo preset (250 alerts)",
        args.clients,
        repeat=args.demo_repeat,
    )


if __name__ == "__main__":
    main()
