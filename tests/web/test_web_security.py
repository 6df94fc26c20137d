"""Security of the dashboard: paths stay in the data folder (traversal, absolute paths, symbolic links, URL
encoding), the token, Host and Origin checks, malformed and oversized WebSocket messages, and the CLI's refusal
to open a non-loopback address without a token."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from myovox.cli.main import main
from myovox.web.paths import DataFolder, PathRefused

SECRET = "top-secret-outside-the-data-folder"
TOKEN = "correct-horse-battery-staple-42"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the data folder holding a secret, a model folder and a recording."""
    out = tmp_path / "outside"
    (out / "model").mkdir(parents=True)
    (out / "secret.txt").write_text(SECRET)
    (out / "model" / "model.json").write_text(json.dumps({"format": "myovox-model", "secret": SECRET}))
    (out / "rec.csv").write_text("time_s,a\n0,1\n")
    (out / "rec.json").write_text(json.dumps({"format": "myovox-guided-recording", "secret": SECRET}))
    return out


def _tree(path: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in path.rglob("*")}


def _get(port: int, target: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    """GET ``target`` exactly as written (no client-side normalisation of ``..`` or ``%2e``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", target, headers=headers or {})
    r = conn.getresponse()
    body = r.read().decode("utf-8", "replace")
    conn.close()
    return r.status, body, {k.lower(): v for k, v in r.getheaders()}


# ---------------------------------------------------------------------------------------------- paths
def test_data_folder_refuses_traversal_absolute_hidden_and_links_out(data_dir: Path, outside: Path) -> None:
    data = DataFolder(data_dir)
    (data_dir / "inner").mkdir()
    (data_dir / "inner" / "ok.txt").write_text("ok")
    os.symlink(outside, data_dir / "escape")  # a link that leaves the folder
    os.symlink(outside / "secret.txt", data_dir / "inner" / "secret-link.txt")
    os.symlink(data_dir / "inner", data_dir / "alias")  # a link that stays inside
    for rel in (
        "../outside/secret.txt",
        "inner/../../outside/secret.txt",
        "inner/../inner/ok.txt",  # '..' refused even when it would stay inside
        str(outside / "secret.txt"),
        "/etc/passwd",
        "//etc/passwd",
        "escape/secret.txt",
        "escape",
        "inner/secret-link.txt",
        "..\\outside\\secret.txt",
        ".myovox-manifest.json",
        "inner/\x00ok.txt",
        "",
        "x" * 600,
        None,
        ["inner", "ok.txt"],
    ):
        with pytest.raises(PathRefused):
            data.resolve(rel)
    assert data.resolve("inner/ok.txt").read_text() == "ok"
    assert data.resolve("alias/ok.txt").read_text() == "ok"
    assert data.resolve("./inner//ok.txt") == data.resolve("inner/ok.txt")
    assert data.resolve("%2e%2e/outside", must_exist=False).parent.parent == data.root  # a literal name, inside
    with pytest.raises(PathRefused, match="not a folder"):
        data.resolve("inner/ok.txt", kind="dir")
    listed = [data.relative(p) for p in data.walk(suffixes=(".txt",))]
    assert listed == ["alias/ok.txt", "inner/ok.txt"] or listed == ["inner/ok.txt"]
    assert not any("secret" in p for p in listed)
    os.symlink(outside, data_dir / "sessions")
    with pytest.raises(PathRefused, match="outside"):
        data.subfolder("sessions")


@pytest.mark.parametrize("route", ["/api/card", "/api/recording"])
def test_http_api_never_reads_outside_the_data_folder(serve, data_dir: Path, outside: Path, route: str) -> None:
    os.symlink(outside, data_dir / "escape")
    os.symlink(outside / "model", data_dir / "models-link")
    server = serve()
    attempts = [
        "../outside/model",
        "../outside/rec.csv",
        "..%2Foutside%2Fmodel",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%252e%252e%252foutside%252fmodel",  # double encoding: a literal name, not found
        urllib.parse.quote(str(outside / "model"), safe=""),
        "/etc/passwd",
        "escape/model",
        "escape/rec.csv",
        "models-link",
        "..\\outside\\model",
        "",
    ]
    for attempt in attempts:
        status, body, _ = _get(server.port, f"{route}?path={attempt}")
        assert status in (400, 403, 404, 422), (attempt, status, body)
        assert SECRET not in body
    status, _, _ = _get(server.port, route)  # no path at all
    assert status == 422


def test_static_files_do_not_leak(serve) -> None:
    server = serve()
    status, body, _ = _get(server.port, "/static/app.js")
    assert status == 200 and "WebSocket" in body
    for target in (
        "/static/../../pyproject.toml",
        "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/static/..%2f..%2f..%2fpyproject.toml",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/../../../etc/passwd",
    ):
        status, body, _ = _get(server.port, target)
        assert status in (400, 404), (target, status)
        assert "[project]" not in body and "root:" not in body


def test_websocket_commands_never_touch_outside(serve, connect, data_dir: Path, outside: Path) -> None:
    os.symlink(outside, data_dir / "escape")
    before = _tree(outside)
    server = serve()
    c = connect(server)
    c.wait(lambda m: m["type"] == "hello")
    bad_paths = ["../outside/rec.csv", str(outside / "rec.csv"), "escape/rec.csv", "replays/../../outside/rec.csv"]
    commands = []
    for p in bad_paths:
        commands += [
            {"type": "start", "source": "file", "path": p},
            {"type": "finetune", "recording": p},
            {"type": "select_model", "model": p.replace("rec.csv", "model")},
        ]
    for i, cmd in enumerate(commands):
        c.send({**cmd, "id": i})
        reply = c.wait(lambda m, i=i: m.get("id") == i, what=f"reply to {cmd}")
        assert reply["type"] == "error", (cmd, reply)
        assert SECRET not in json.dumps(reply)
    # a protocol file outside, named while a source runs
    c.send({"type": "start", "source": "file", "path": "replays/rec.npz"})
    c.wait(lambda m: m["type"] == "stream")
    for i, p in enumerate(bad_paths, start=100):
        c.send({"type": "record_start", "protocol": "file", "path": p, "id": i})
        assert c.wait(lambda m, i=i: m.get("id") == i)["type"] == "error"
    assert _tree(outside) == before
    assert not (data_dir / "sessions").exists() or not list((data_dir / "sessions").iterdir())


def test_a_sessions_folder_that_links_outside_is_refused(serve, connect, data_dir: Path, outside: Path) -> None:
    os.symlink(outside, data_dir / "sessions")
    before = _tree(outside)
    server = serve()
    c = connect(server)
    c.send({"type": "start", "source": "file", "path": "replays/rec.npz"})
    c.wait(lambda m: m["type"] == "stream")
    c.send({"type": "record_start", "protocol": "quick", "id": "r"})
    reply = c.wait(lambda m: m.get("id") == "r")
    assert reply["type"] == "error" and "outside the data folder" in reply["message"]
    assert _tree(outside) == before


# ------------------------------------------------------------------------------------ messages
def test_malformed_and_oversized_messages_do_not_kill_the_server(serve, connect) -> None:
    server = serve()
    c = connect(server)
    c.wait(lambda m: m["type"] == "hello")
    garbage = [
        "not json",
        "{",
        "[]",
        "null",
        '{"type": 42}',
        '{"type": "start", "source": "file", "path": {"a": 1}}',
        '{"type": "drawn", "seq": "x", "t": 1}',
        '{"type": "drawn", "seq": 1, "t": Infinity}',
        '{"type": "ping", "extra": "field"}',
        json.dumps({"type": "ping", "pad": "x" * 5000}),  # over the 4 KiB limit
        b"\x00\x01binary",
        "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    ]
    for g in garbage:
        c.send(g)
    # the predicate reads the live list: check the message in hand too, else a message that came before the last
    # error could be returned once that error has arrived (seen as a flaky 'state' here)
    errors = c.wait(lambda m: m["type"] == "error" and len(c.of("error")) >= len(garbage), what="an error per message")
    assert errors["type"] == "error"
    assert any("binary" in e["message"] for e in c.of("error"))
    assert any("4096" in e["message"] for e in c.of("error"))
    c.send({"type": "ping", "id": "alive"})
    assert c.wait(lambda m: m.get("id") == "alive")["type"] == "pong"
    # a frame over the server's frame limit closes this connection only
    big = connect(server)
    big.wait(lambda m: m["type"] == "hello")
    big.send("x" * (200 * 1024))
    closed = big.wait_closed(10)
    assert closed is not None and closed.rcvd.code == 1009  # "message too big"
    c.send({"type": "ping", "id": "still"})
    assert c.wait(lambda m: m.get("id") == "still")["type"] == "pong"
    fresh = connect(server)
    assert fresh.wait(lambda m: m["type"] == "hello")["type"] == "hello"


# --------------------------------------------------------------------------- host, origin, token
def test_without_a_token_only_loopback_hosts_and_the_page_s_own_origin(serve, connect) -> None:
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    server = serve()
    status, _, _ = _get(server.port, "/api/state", {"Host": "evil.example:8765"})  # DNS rebinding
    assert status == 421
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", "[::1]"):
        assert _get(server.port, "/api/state", {"Host": host})[0] == 200
    with pytest.raises((InvalidStatus, InvalidHandshake)):
        connect(server, origin="http://evil.example")  # another web site's page in the same browser
    ok = connect(server, origin=f"http://127.0.0.1:{server.port}")
    assert ok.wait(lambda m: m["type"] == "hello")["type"] == "hello"


def test_with_a_token_every_request_must_present_it(serve, connect) -> None:
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    server = serve(token=TOKEN)
    for target in ("/", "/static/app.js", "/api/state", "/api/models", f"/?token={TOKEN[:-1]}x"):
        status, body, _ = _get(server.port, target)
        assert status == 401, target
        assert "myovox" not in body.lower() or "token" in body
    status, body, headers = _get(server.port, f"/?token={TOKEN}")
    assert status == 200 and "<canvas" in body
    cookie = headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    jar = {"Cookie": cookie.split(";")[0]}
    assert _get(server.port, "/static/app.js", jar)[0] == 200  # what the page loads next
    assert _get(server.port, "/api/state", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert _get(server.port, "/api/state", {"X-Myovox-Token": TOKEN})[0] == 200
    assert _get(server.port, "/api/state", {"Host": "dashboard.lab.example"} | jar)[0] == 200  # any name, with token
    for path in ("/ws", f"/ws?token={TOKEN[:8]}"):
        with pytest.raises((InvalidStatus, InvalidHandshake)):
            connect(server, path=path)
    with_query = connect(server, path=f"/ws?token={TOKEN}")
    assert with_query.wait(lambda m: m["type"] == "hello")["type"] == "hello"
    with_cookie = connect(server, additional_headers=jar)
    assert with_cookie.wait(lambda m: m["type"] == "hello")["type"] == "hello"


def test_the_cli_refuses_an_open_address_without_a_token(capsys, monkeypatch) -> None:
    from myovox.exceptions import ValidationError
    from myovox.web.server import check_bind

    monkeypatch.delenv("MYOVOX_TOKEN", raising=False)
    for argv in (["serve", "--host", "0.0.0.0", "--demo"], ["serve", "--host", "192.168.1.20", "--port", "0"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--token" in err and "MYOVOX_TOKEN" in err
    assert main(["serve", "--host", "0.0.0.0", "--token", "short"]) == 2
    assert "at least 16" in capsys.readouterr().err
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("localhost", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(ValidationError):
        check_bind("::", None)
    monkeypatch.setenv("MYOVOX_TOKEN", TOKEN)
    from myovox.web.server import token_from_env

    assert token_from_env(None) == TOKEN and token_from_env("given-token-1234567") == "given-token-1234567"


def test_serve_without_the_web_extra_names_it(capsys, monkeypatch) -> None:
    for name in [m for m in sys.modules if m == "myovox.web.server"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'myovox[web]'" in err


def test_import_myovox_stays_light() -> None:
    code = (
        "import sys, myovox, myovox.cli.main; myovox.cli.main.build_parser(); "
        "print([m for m in ('fastapi', 'uvicorn', 'starlette', 'websockets', 'myovox.web.server') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
