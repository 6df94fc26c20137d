"""The dashboard's web server: a FastAPI application on uvicorn, one WebSocket for live data.

Routes (all read-only except the WebSocket):

``GET /``                 the page (static, shipped in the package: no build step, no CDN)
``GET /static/...``       its script and style sheet
``GET /api/state``        what the page gets on connecting (sources, protocols, models, recordings, state)
``GET /api/models``       saved models with their cards
``GET /api/card?path=``   one model's card (``path`` relative to the data folder, or ``startup``)
``GET /api/recordings``   recorded sessions
``GET /api/recording?path=``  one recorded session read back: meta, status, samples per label, cues
``WS  /ws``               live messages out (:mod:`myovox.web.session`), commands in (:mod:`myovox.web.messages`)

Security (:class:`Guard`, in front of every route):

- Without a token (the default, only on a loopback address) the ``Host`` header must name a
  loopback host, which defeats DNS rebinding, and a WebSocket's ``Origin`` must be the page's own
  (a WebSocket is not subject to the browser's same-origin policy: without the check any web site
  open in the same browser could drive the session).
- With a token (required by :func:`check_bind` for any other address) every HTTP and WebSocket
  request must present it: ``?token=``, an ``Authorization: Bearer`` or ``X-Myovox-Token`` header,
  or the cookie the server sets when the page is opened with ``?token=`` (``HttpOnly``,
  ``SameSite=Strict``). Tokens are compared in constant time.
- Client-supplied paths are resolved inside the data folder only (:mod:`myovox.web.paths`).
- WebSocket messages over :data:`~myovox.web.messages.MAX_MESSAGE_CHARS` characters, binary frames,
  malformed JSON and unknown commands get an error reply; frames over ``ws_max_size`` (64 KiB)
  close that one connection. Neither stops the server.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._logging import logger
from ..exceptions import MissingDependencyError, MyovoxError, ValidationError
from .messages import MAX_MESSAGE_CHARS, parse_command
from .paths import PathRefused
from .session import DashboardSession

try:
    import uvicorn
    from fastapi import FastAPI, Query, Request, WebSocket
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool
    from starlette.websockets import WebSocketDisconnect
except ImportError as err:  # pragma: no cover - exercised by the CLI test without the extra
    raise MissingDependencyError(
        f"the web dashboard needs FastAPI and uvicorn: install them with `pip install 'myovox[web]'` ({err})."
    ) from err

__all__ = ["LOOPBACK_HOSTS", "DashboardServer", "Guard", "check_bind", "create_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: host names that only this machine reaches
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
COOKIE = "myovox_token"
#: shortest token accepted
MIN_TOKEN_CHARS = 16
WS_MAX_BYTES = 64 * 1024
_QUEUE = 256  # messages waiting for one client; beyond, the oldest are dropped (a slow page never stalls the rest)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, IPv6 with or without brackets) is this machine only."""
    h = host.strip().strip("[]").lower()
    if h in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token (or with a short one).

    Raises
    ------
    ValidationError
        One line naming what to do.
    """
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ValidationError(
            f"the token must have at least {MIN_TOKEN_CHARS} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)."
        )
    if not is_loopback(host) and not token:
        raise ValidationError(
            f"--host {host} lets other machines connect: give a token with --token or $MYOVOX_TOKEN "
            f"(at least {MIN_TOKEN_CHARS} characters), or serve on 127.0.0.1."
        )


def _host_name(value: str) -> str:
    """The host part of a Host header (``[::1]:8765`` -> ``::1``)."""
    value = value.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware: Host and Origin checks, and the token (see the module docstring)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *, token: str | None) -> None:
        self.app = app
        self.token = token

    def _presented(self, scope: Scope, headers: dict[str, str]) -> str | None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        if headers.get("x-myovox-token"):
            return headers["x-myovox-token"]
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return None

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """``(status, reason)`` when the request must be refused, else None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.token is None and not is_loopback(_host_name(host)):
            return 421, f"Host {host!r} is not this machine's loopback name"
        if scope["type"] == "websocket":
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
                return 403, "cross-origin WebSocket refused"
        if self.token is not None:
            given = self._presented(scope, headers)
            if given is None or not hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8")):
                return 401, "a valid token is required"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        logger.warning("refused %s %s: %s", scope["type"], scope.get("path"), reason)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
            return
        body = ('{{"error": "{}"}}'.format(reason.replace('"', "'"))).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _static_dir() -> Path:
    return Path(str(resources.files("myovox.web") / "static"))


def create_app(session: DashboardSession, *, token: str | None = None) -> FastAPI:
    """The FastAPI application over ``session`` (routes in the module docstring)."""
    static = _static_dir()
    app = FastAPI(title="myovox dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Guard, token=token)

    def refused(err: Exception) -> JSONResponse:
        status = 404 if "does not exist" in str(err) else 403 if isinstance(err, PathRefused) else 400
        return JSONResponse({"error": str(err)}, status_code=status)

    @app.get("/")
    def index(request: Request) -> Response:
        html = (static / "index.html").read_text(encoding="utf-8")
        response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
        given = request.query_params.get("token")
        if token is not None and given is not None:  # the Guard checked it
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
        return response

    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/api/state")
    def api_state() -> JSONResponse:
        return JSONResponse(session.hello())

    @app.get("/api/models")
    def api_models() -> JSONResponse:
        return JSONResponse(session.list_models())

    @app.get("/api/recordings")
    def api_recordings() -> JSONResponse:
        return JSONResponse(session.list_recordings())

    @app.get("/api/card")
    def api_card(path: str = Query(...)) -> JSONResponse:
        try:
            return JSONResponse(session.model_card(path))
        except (MyovoxError, OSError, ValueError) as err:
            return refused(err)

    @app.get("/api/recording")
    def api_recording(path: str = Query(...)) -> JSONResponse:
        try:
            return JSONResponse(session.recording_summary(path))
        except (MyovoxError, OSError, ValueError) as err:
            return refused(err)

    @app.websocket("/ws")
    async def ws_endpoint(ws: WebSocket) -> None:
        await ws.accept()
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=_QUEUE)
        dropped = [0]

        def put(text: str) -> None:
            while q.full():
                q.get_nowait()
                dropped[0] += 1
            q.put_nowait(text)

        def offer(text: str, kind: str) -> None:
            loop.call_soon_threadsafe(put, text)

        def reply(msg: dict[str, Any]) -> None:
            import json

            put(json.dumps(msg, separators=(",", ":"), allow_nan=False))

        async def sender() -> None:
            while True:
                await ws.send_text(await q.get())

        unsubscribe = session.subscribe(offer)  # its messages queue behind the hello (no await in between)
        try:
            reply(session.hello())
        except Exception as err:  # noqa: BLE001 - an unreadable data folder must not end the connection
            logger.exception("dashboard: hello failed")
            reply({"type": "error", "message": f"cannot describe the session: {type(err).__name__}: {err}"})
        task = asyncio.create_task(sender())
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                try:
                    cmd = parse_command(text if text is not None else b"", max_chars=MAX_MESSAGE_CHARS)
                except ValidationError as err:
                    reply({"type": "error", "message": str(err)})
                    continue
                try:
                    answer = await run_in_threadpool(session.handle, cmd)
                except (MyovoxError, OSError, ValueError) as err:
                    reply({"type": "error", "id": cmd.get("id"), "command": cmd["type"], "message": str(err)})
                    continue
                except Exception as err:  # noqa: BLE001 - one bad request must not end the connection
                    logger.exception("dashboard command %s failed", cmd["type"])
                    reply({"type": "error", "id": cmd.get("id"), "message": f"internal error: {type(err).__name__}"})
                    continue
                if answer is not None:
                    reply(answer)
        except WebSocketDisconnect:
            pass
        finally:
            unsubscribe()
            task.cancel()
            if dropped[0]:
                logger.info("a page fell behind: %d messages dropped", dropped[0])

    return app


class DashboardServer:
    """The dashboard on uvicorn: ``run()`` blocks (the CLI), ``start()`` serves from a thread (tests).

    Parameters
    ----------
    session : DashboardSession
    host : str
        Address to bind (default loopback); any other needs ``token`` (:func:`check_bind`).
    port : int
        TCP port; 0 picks a free one (see :attr:`port` once started).
    token : str | None
    """

    def __init__(
        self, session: DashboardSession, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None
    ):
        check_bind(host, token)
        self.session, self.host, self.token = session, host, token
        self.app = create_app(session, token=token)
        self.config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws_max_size=WS_MAX_BYTES,
            ws_per_message_deflate=False,
            server_header=False,
        )
        self.server = uvicorn.Server(self.config)
        self.port = port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        base = f"http://{host}:{self.port}/"
        return f"{base}?token={self.token}" if self.token else base

    def _bound_port(self) -> int:
        for server in getattr(self.server, "servers", []) or []:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.port

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C), then stop the session (a recording in progress is kept)."""
        try:
            self.server.run()
        finally:
            self.session.close()

    def start(self, timeout: float = 20.0) -> DashboardServer:
        """Serve from a background thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.server.run, name="myovox-dashboard-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard server did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        self.port = self._bound_port()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """Stop serving and close the session."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self.session.close()


def token_from_env(value: str | None) -> str | None:
    """``value``, else ``$MYOVOX_TOKEN``, else None."""
    return value if value else (os.environ.get("MYOVOX_TOKEN") or None)
