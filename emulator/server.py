"""HTTPS plumbing, request pipeline and the in-process API (`EmulatorServer`).

Stdlib `ThreadingHTTPServer` (a thread per connection, HTTP/1.1 keep-alive) with TLS done in the
connection's own thread, so a slow handshake never blocks `accept()`. Each response is written with
a single `sendall` of header block plus body. Alert pages are joined from cached per-alert bytes.

Pipeline for an ARM request: route -> bearer token -> subscription visible to the token's tenant ->
api-version present -> injected fault -> rate-limit bucket -> handler -> request log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from . import (  # arm modules register their routes on import
    arm,
    arm_alerts,
    control,
    diagnostics,
    identity,
    persist,
    presets,
    resource_graph,
    signin,
    storage,
)
from .accesslogs import AccessLogService
from .certs import ensure_certificates
from .faults import STATUS_KINDS, Fault, FaultRegistry
from .identity import AuthError, Principal, TokenService
from .reqlog import RequestLog
from .routing import Ctx, Route, resolve, route
from .state import EmulatorState
from .throttle import Throttle
from .util import Clock
from .web import Request, Response, error_response, json_response, parse_query

_ROUTE_MODULES = (arm, arm_alerts, storage, diagnostics)
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_SLASHES = re.compile(r"/{2,}")
_MISSING_HEADER = "The authentication failed because of missing 'Authorization' header."


# -- identity routes (anonymous) --------------------------------------------------------------------
@route("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration", "openid", scope="anonymous")
def _openid(ctx: Ctx, m: re.Match[str]) -> Response:
    return identity.openid_configuration(ctx.rt.state, ctx.req, m["tenant"])


@route("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", "token", scope="anonymous")
def _token(ctx: Ctx, m: re.Match[str]) -> Response:
    return identity.token(ctx.rt.state, ctx.rt.tokens, ctx.req, m["tenant"], signin_service=ctx.rt.signin)


@route("GET", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/authorize", "authorize", scope="anonymous")
def _authorize(ctx: Ctx, m: re.Match[str]) -> Response:
    return signin.authorize(identity.find_tenant(ctx.rt.state, m["tenant"]), ctx.rt.signin, ctx.req)


@route("GET", r"/(?P<tenant>[^/]+)/discovery/v2\.0/keys", "jwks", scope="anonymous")
def _jwks(ctx: Ctx, m: re.Match[str]) -> Response:
    return json_response(200, ctx.rt.signin.jwks())


class Runtime:
    """The live emulator: state, tokens, faults, throttle, request log and the request pipeline."""

    def __init__(
        self,
        *,
        preset: str,
        seed: int,
        page_size: int,
        throttle: bool,
        alerts: int | None,
        control_token: str,
        anchor: dt.datetime | None = None,
        data_dir: Path | None = None,
        persist_state: bool = True,
        storage: str = "off",
        log_interval: float = 10.0,
        attack_interval: float = 300.0,
        log_writer: bool = False,
    ) -> None:
        self.preset = preset
        self.seed = seed
        self.page_size = page_size
        self.alerts = alerts
        self.initial_throttle = throttle
        self.control_token = control_token
        self.clock = Clock()
        self.world = persist.world_of(preset, seed, alerts)
        self.persister: persist.Persister | None = None
        snapshot: dict[str, Any] | None = None
        path: Path | None = None
        if data_dir is not None and persist_state:
            path = persist.snapshot_path(data_dir, self.world)
            snapshot = persist.read(path)
            if anchor is None and snapshot is not None:  # the world the saved state was made in
                with contextlib.suppress(persist.SnapshotMismatch):
                    persist.check(snapshot, self.world, persist.saved_anchor(snapshot))
                    anchor = persist.saved_anchor(snapshot)
        self.anchor = anchor or self.clock.now()
        self.tokens = TokenService()
        self.signin = signin.SignInService()
        self.faults = FaultRegistry()
        self.throttle = Throttle(throttle)
        self.resource_graph_quota = resource_graph.Quota()  # per user: 15 queries in 5 s
        self.log = RequestLog()
        self.state = self._fresh_state()
        self.access_logs = AccessLogService(
            self,
            mode=storage,
            interval=log_interval,
            attack_interval=attack_interval,
            writer_enabled=log_writer,
        )
        if path is None:
            return
        if snapshot is not None:
            try:
                persist.check(snapshot, self.world, self.anchor)
                persist.apply(snapshot, self.state)
                print(
                    f"emulator: state loaded from {path} (saved {snapshot.get('saved_at')})", file=sys.stderr
                )
            except (persist.SnapshotMismatch, KeyError, TypeError, ValueError) as exc:
                print(
                    f"emulator: {path} not loaded: {exc}. Starting from the seed; the file is replaced at the "
                    "next change.",
                    file=sys.stderr,
                )
                self.clock.reset()
                self.state = self._fresh_state()
        state = self.state
        self.persister = persist.Persister(
            path, lambda: persist.dump(state, self.world, self.anchor), state.lock
        )

    def _fresh_state(self) -> EmulatorState:
        state = EmulatorState(preset=self.preset, seed=self.seed, page_size=self.page_size, clock=self.clock)
        presets.build(state, self.anchor, self.alerts)
        return state

    def changed(self) -> None:
        """Azure's state changed (a write answered, a control call): save it soon."""
        if self.persister is not None:
            self.persister.changed()

    def reset(self) -> None:
        def back_to_seed() -> None:
            self.clock.reset()
            self.state.replace_with(self._fresh_state())

        if self.persister is not None:
            self.persister.discard(back_to_seed)  # and the snapshot goes
        else:
            back_to_seed()
        self.access_logs.reset()
        self.faults.clear()
        self.log.clear()
        self.throttle.reset(self.initial_throttle)
        self.resource_graph_quota.configure(15, 5.0)

    def known_resource_group(self, subscription_id: str, rg: str) -> bool:
        return self.state.known_resource_group(subscription_id, rg)

    def connections(self) -> list[dict[str, Any]]:
        return [
            {
                "name": t.display_name,
                "tenant_id": t.tenant_id,
                "client_id": t.client_id,
                "client_secret": t.client_secret,
                "subscription_ids": [s.subscription_id for s in self.state.own_subscriptions(t.tenant_id)],
            }
            for t in self.state.tenants.values()
        ]

    # -- the ARM / identity pipeline -------------------------------------------------------------
    def handle(self, req: Request, info: dict[str, Any]) -> Response:
        rt, m, path_known = resolve(req.method, req.path)
        ctx = Ctx(self, req)
        if rt is None or m is None:
            principal_or_error = self._authenticate(req)
            if isinstance(principal_or_error, Response):
                return principal_or_error
            if path_known:
                return error_response(
                    405, "HttpMethodNotAllowed", f"The HTTP method '{req.method}' is not supported."
                )
            return error_response(
                404,
                "InvalidResourceType",
                f"The resource path '{req.raw_path}' is not provided by this emulator.",
            )
        info["op"] = rt.op
        if rt.scope != "anonymous":
            principal_or_error = self._authenticate(req)
            if isinstance(principal_or_error, Response):
                return principal_or_error
            ctx.principal = principal_or_error
            info["client_id"] = ctx.principal.client_id
            info["tenant_id"] = ctx.principal.tenant_id
            if rt.scope == "subscription":
                sid = m["sub"]
                info["subscription_id"] = sid
                sub = self.state.subscription(sid)
                if sub is None or not self.state.can_access(sub, ctx.principal.tenant_id):
                    return error_response(
                        404, "SubscriptionNotFound", f"The subscription '{sid}' could not be found."
                    )
                ctx.sub = sub
            if not req.api_version:
                return error_response(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                )
        groups = m.groupdict()
        fault_ctx = {
            "subscription_id": groups.get("sub"),
            "name": groups.get("name"),
            "tenant_id": info.get("tenant_id") or groups.get("tenant"),
            "client_id": info.get("client_id"),
            "method": req.method,
        }
        fault = self.faults.take(rt.op, fault_ctx)
        truncate = False
        if fault is not None:
            info["fault"] = fault.kind
            early = self._apply_fault(fault, rt, ctx)
            if early is not None:
                return early
            truncate = fault.kind == "truncated"
            ctx.loop_next = fault.kind == "nextlink_loop"
            ctx.relative_next = fault.kind == "relative_nextlink"
            ctx.result_truncated = fault.kind == "result_truncated"
            ctx.foreign_next = fault.kind == "foreign_nextlink"
        limit_header: tuple[str, str] | None = None
        if ctx.principal is not None:
            scope_name = "subscription" if ctx.sub is not None else "tenant"
            scope_key = ctx.sub.subscription_id if ctx.sub is not None else ctx.principal.tenant_id
            decision = self.throttle.take(scope_key, ctx.principal.client_id, rt.kind)
            limit_header = (f"x-ms-ratelimit-remaining-{scope_name}-{rt.kind}", str(decision.remaining))
            if not decision.allowed:
                return error_response(
                    429,
                    "SubscriptionRequestsThrottled" if ctx.sub is not None else "TenantRequestsThrottled",
                    f"Number of '{rt.kind[:-1]}' requests for {scope_name} '{scope_key}' actor "
                    f"'{ctx.principal.object_id}' exceeded. Please try again after '{decision.retry_after}' seconds "
                    "after the window is reset.",
                    [("Retry-After", str(decision.retry_after)), limit_header],
                )
        resp = rt.handler(ctx, m)
        if rt.kind != "reads" and resp.status < 400:
            self.changed()
        if limit_header is not None:
            resp.headers.append(limit_header)
        if truncate and resp.body:
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        return resp

    def _authenticate(self, req: Request) -> Principal | Response:
        header = req.headers.get("authorization", "")
        challenge_base = f'Bearer authorization_uri="{req.base_url}/", error="invalid_token"'
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return error_response(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                [("WWW-Authenticate", f'{challenge_base}, error_description="{_MISSING_HEADER}"')],
            )
        try:
            return self.tokens.validate(header[7:].strip(), req.base_url)
        except AuthError as exc:
            return error_response(
                401,
                exc.code,
                exc.message,
                [("WWW-Authenticate", f'{challenge_base}, error_description="{exc.description}"')],
            )

    def _apply_fault(self, fault: Fault, rt: Route, ctx: Ctx) -> Response | None:
        kind = fault.kind
        headers = [("Retry-After", _seconds(fault.retry_after))] if fault.retry_after is not None else []
        if kind in STATUS_KINDS:
            status = STATUS_KINDS[kind]
            if rt.op == "token":
                return json_response(
                    status,
                    {
                        "error": "temporarily_unavailable",
                        "error_description": f"AADSTS50196: injected {status}",
                        "error_codes": [50196],
                    },
                    headers,
                )
            code, message = {
                429: (
                    "SubscriptionRequestsThrottled",
                    "Number of requests exceeded the limit (injected fault).",
                ),
                500: ("InternalServerError", "Encountered internal server error (injected fault)."),
                502: (
                    "BadGateway",
                    "The gateway did not receive a response from the service (injected fault).",
                ),
                503: ("ServiceUnavailable", "The service is temporarily unavailable (injected fault)."),
                504: ("GatewayTimeout", "The gateway did not receive a response in time (injected fault)."),
            }[status]
            return error_response(status, code, message, headers)
        if kind == "expired_token":
            now = dt.datetime.now(dt.UTC)
            return error_response(
                401,
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{(now - dt.timedelta(minutes=1)):%m/%d/%Y %H:%M:%S}' is "
                f"earlier than current UTC time '{now:%m/%d/%Y %H:%M:%S}'.",
                [
                    (
                        "WWW-Authenticate",
                        f'Bearer authorization_uri="{ctx.req.base_url}/", error="invalid_token", '
                        'error_description="The access token is expired"',
                    )
                ],
            )
        if kind == "timeout":
            time.sleep(fault.latency_ms / 1000)
            return Response(0, drop=True)
        if kind == "malformed":
            return Response(200, b'{"value": [{"id": "/subscriptions/x", "name": ,]} <html>not json</html>')
        if kind == "latency":
            time.sleep(fault.latency_ms / 1000)
        return None


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# -- HTTP plumbing --------------------------------------------------------------------------------
class _Date:
    """`Date` header value, recomputed at most once a second."""

    _lock = threading.Lock()
    _second = -1
    _value = ""

    @classmethod
    def get(cls) -> str:
        now = int(time.time())
        if now != cls._second:
            with cls._lock:
                cls._value = email.utils.formatdate(now, usegmt=True)
                cls._second = now
        return cls._value


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], runtime: Runtime, ssl_context: ssl.SSLContext) -> None:
        self.runtime = runtime
        self.ssl_context = ssl_context
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client disconnects
        return

    def close_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kv-emulator"
    sys_version = ""
    timeout = 240  # idle keep-alive connections are closed after this (Azure's load balancers: 4 minutes)
    server: _HTTPServer

    def setup(self) -> None:
        raw: socket.socket = self.request
        raw.settimeout(self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = self.server.ssl_context.wrap_socket(raw, server_side=True)
        with self.server.conn_lock:
            self.server.connections.add(self.request)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.conn_lock:
                self.server.connections.discard(self.request)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        started = time.perf_counter()
        body = self._read_body()
        raw_path, _, query_string = self.path.partition("?")
        path = _SLASHES.sub("/", unquote(raw_path)).rstrip("/") or "/"
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        req = Request(
            method=self.command,
            path=path,
            raw_path=raw_path,
            query_string=query_string,
            query=parse_query(query_string),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"https://{host}",
        )
        rt = self.server.runtime
        if path == "/_emulator" or path.startswith("/_emulator/"):
            self._send(req, control.handle(rt, req))
            return
        info: dict[str, Any] = {"op": None, "subscription_id": None, "fault": None}
        try:
            resp = rt.handle(req, info)
        except Exception as exc:  # a bug must not kill the connection thread silently
            resp = error_response(500, "InternalServerError", f"Emulator error: {type(exc).__name__}: {exc}")
        # logged before the answer goes out: a client that has its answer finds the request in the log
        rt.log.add(
            method=req.method,
            path=raw_path,
            query=query_string,
            status=0 if resp.drop else resp.status,
            op=info.get("op"),
            subscription_id=info.get("subscription_id"),
            client_id=info.get("client_id"),
            fault=info.get("fault"),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        if resp.drop:
            self.close_connection = True
        else:
            self._send(req, resp)

    def _send(self, req: Request, resp: Response) -> None:
        body = b"" if req.method == "HEAD" else resp.body
        lines = [
            f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Status')}",
            f"Date: {_Date.get()}",
            f"Content-Length: {len(resp.body)}",
            f"x-ms-request-id: {uuid.uuid4()}",
            f"x-ms-correlation-request-id: {req.headers.get('x-ms-correlation-request-id') or uuid.uuid4()}",
            "Cache-Control: no-cache",
        ]
        if resp.content_type and resp.body:
            lines.append(f"Content-Type: {resp.content_type}")
        client_request_id = req.headers.get("x-ms-client-request-id")
        if client_request_id:
            lines.append(f"x-ms-client-request-id: {client_request_id}")
        for name, value in resp.headers:
            lines.append(f"{name}: {value}")
        if resp.close or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        try:
            self.wfile.write(head + body)
        except OSError:
            self.close_connection = True


# -- in-process API -------------------------------------------------------------------------------
class EmulatorServer:
    """Run the emulator in this process (tests) or from the CLI.

    >>> srv = EmulatorServer(preset="demo", seed=1, port=0, data_dir=Path("var/emulator")).start()
    >>> srv.env["AZURE_ARM_ENDPOINT"], srv.ca_path, srv.state
    >>> srv.stop()
    """

    def __init__(
        self,
        preset: str = "demo",
        *,
        seed: int = 1,
        port: int = 0,
        host: str = "127.0.0.1",
        data_dir: Path | str = Path("var/emulator"),
        page_size: int = 100,
        throttle: bool = False,
        alerts: int | None = None,
        public_host: str | None = None,
        control_token: str | None = None,
        start_time: dt.datetime | None = None,
        persist_state: bool = True,
        storage: str = "off",
        log_interval: float = 10.0,
        attack_interval: float = 300.0,
        log_writer: bool = False,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        if alerts is not None and not 0 <= alerts <= 1_000_000:
            raise ValueError("alerts must be between 0 and 1,000,000")
        self.data_dir = Path(data_dir)
        self.ca_path = (self.data_dir / "ca.pem").resolve()
        self.host = host
        self.public_host = public_host or "127.0.0.1"
        self._port = port
        self.control_token = control_token or secrets.token_urlsafe(32)
        self.runtime = Runtime(
            preset=preset,
            seed=seed,
            page_size=page_size,
            throttle=throttle,
            alerts=alerts,
            control_token=self.control_token,
            anchor=start_time,
            data_dir=self.data_dir,
            persist_state=persist_state,
            storage=storage,
            log_interval=log_interval,
            attack_interval=attack_interval,
            log_writer=log_writer,
        )
        self.persist_state = persist_state
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        extra_hosts = [self.public_host] if self.public_host not in ("127.0.0.1", "localhost") else []
        if self.host not in ("127.0.0.1", "0.0.0.0", "localhost", "::"):  # noqa: S104 - only a host-name comparison
            extra_hosts.append(self.host)
        paths = ensure_certificates(self.data_dir, extra_hosts)
        self.ca_path = paths.ca_cert.resolve()
        self.runtime.access_logs.start(
            self.data_dir, self.ca_path, self.persist_state
        )  # Azurite, if asked for
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(paths.server_cert, paths.server_key)
        try:
            self._httpd = _HTTPServer((self.host, self._port), self.runtime, ctx)
        except BaseException:
            self.runtime.access_logs.stop()
            raise
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="emulator-http", daemon=True)
        self._thread.start()
        if self.runtime.persister is not None:
            self.runtime.persister.start()
        (self.data_dir / "connections.json").write_text(json.dumps(self.connections, indent=2) + "\n")
        return self

    def stop(self) -> None:
        """Stop serving, then save the state if it changed since the last save. Safe to call twice, from any thread:
        a second call returns once the first is done."""
        with self._stop_lock:
            if self._httpd is None:
                return
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self.runtime.access_logs.stop()
            if self.runtime.persister is not None:
                self.runtime.persister.stop()
            self._httpd = None

    def wait(self) -> None:
        """Block until stop() is called from another thread (the CLI's signal handler) and has finished (the state
        is saved)."""
        if self._thread is not None:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        self.stop()

    def __enter__(self) -> EmulatorServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what clients need -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the emulator is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"https://{self.public_host}:{self.port}"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/_emulator"

    @property
    def state(self) -> EmulatorState:
        return self.runtime.state

    @property
    def connections(self) -> list[dict[str, Any]]:
        return self.runtime.connections()

    @property
    def env(self) -> dict[str, str]:
        first = self.connections[0]
        return {
            "AZURE_ARM_ENDPOINT": self.base_url,
            "AZURE_AUTHORITY_HOST": self.base_url,
            "AZURE_TENANT_ID": first["tenant_id"],
            "AZURE_CLIENT_ID": first["client_id"],
            "AZURE_CLIENT_SECRET": first["client_secret"],
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
            "EMULATOR_CONTROL_URL": self.control_url,
            "EMULATOR_CONTROL_TOKEN": self.control_token,
        } | self.storage_env

    @property
    def storage_env(self) -> dict[str, str]:
        """`ACCESS_LOGS_UNAVAILABLE=<reason>` while Azurite does not run (storage off, or auto without Node.js or
        Azurite), else nothing."""
        logs = self.runtime.access_logs
        return {} if logs.available else {"ACCESS_LOGS_UNAVAILABLE": logs.reason or "Azurite does not run"}

    @property
    def access_logs(self) -> AccessLogService:
        return self.runtime.access_logs

    def storage_account(self, name: str) -> dict[str, str]:
        """A seeded storage account as tests use it: `name`, `id`, `location`, `blob_endpoint`, `key`
        (SharedKey clients: `credential={"account_name": name, "account_key": key}`)."""
        for accounts in self.state.storage_accounts.values():
            for a in accounts:
                if a.name == name:
                    return {
                        "name": a.name,
                        "id": a.id,
                        "location": a.location,
                        "blob_endpoint": self.access_logs.blob_endpoint(a.name),
                        "key": a.key,
                    }
        raise KeyError(name)
