"""Who may change a node: signed upgrades, loopback-only without keys, TLS, HTTP refused, FIFOs, escaping."""

from __future__ import annotations

import asyncio
import base64
import datetime
import io
import ipaddress
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from cam import auth
from cam.client import Client, NodeError
from cam.node import Limits, Node
from cam.server import NodeServer, Transcript, check_fifo, start_in_thread
from cam.text import digest, parse_value
from tests.node_helpers import DOWN, MIG, UP, V1, V2, NodeProcess, cam


@pytest.fixture(scope="module")
def keys(tmp_path_factory: Any) -> dict[str, str]:
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("ops", "mallory"):
        r = cam("keygen", str(d / name))
        assert r.returncode == 0 and "Public key:" in r.stdout, r.stderr
        out[name] = str(d / name)
    return out


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(keys):
    assert stat.S_IMODE(os.stat(keys["ops"] + ".key").st_mode) == 0o600
    r = cam("keygen", keys["ops"])
    assert r.returncode == 2 and "not overwritten" in r.stderr
    assert len(auth.load_public_key(keys["ops"] + ".pub")) == 32
    with pytest.raises(ValueError):
        auth.load_public_key(keys["ops"] + ".key")


@settings(max_examples=40)  # pure-Python verification takes ~10 ms
@given(st.binary(max_size=200), st.integers(0, 63), st.integers(0, 7))
def test_pure_python_verification_agrees_with_cryptography(message, byte, bit):
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    sig = key.sign(message)
    assert auth.verify(public, message, sig)
    tampered = bytearray(sig)
    tampered[byte] ^= 1 << bit
    assert not auth.verify(public, message, bytes(tampered))
    assert not auth.verify(public, message + b"!", sig)
    other = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                          serialization.PublicFormat.Raw)
    assert not auth.verify(other, message, sig)


def _serve_trusting(keys: dict[str, str]) -> Any:
    node = Node(V1, parse_value("Int 0"))
    return node, start_in_thread(node, trust=[auth.load_public_key(keys["ops"] + ".pub")])


def _signed_line(node: Node, key: str, o: Any, n: Any, m: Any, rid: int = 1, **over: Any) -> str:
    """An upgrade request line signed by `key` for `node` as it is now (fields in `over` replace the signed ones)."""
    message = auth.payload("upgrade", node.node_id, node.generation, node.digest,
                           old=digest(o), new=digest(n), migration=digest(m))
    req = {"id": rid, "kind": "upgrade", "old": str(o), "new": str(n), "migration": str(m),
           "signature": auth.sign(key, message), **over}
    return json.dumps(req)


def test_unsigned_tampered_replayed_and_wrong_key_upgrades_are_refused(keys):
    node, running = _serve_trusting(keys)
    with running, Client(running.host, running.port) as c:
        def refused(line: str) -> None:
            before = (node.digest, node.state, node.generation)
            r = c.request(line)
            assert (r["ok"], r["error"]) == (False, "unauthorized"), r
            assert (node.digest, node.state, node.generation) == before

        c.do("L Unit")
        with pytest.raises(NodeError) as e:
            c.upgrade(V1, V2, MIG)  # unsigned
        assert e.value.kind == "unauthorized"
        refused(_signed_line(node, keys["mallory"] + ".key", V1, V2, MIG))  # a key the node does not trust
        # tampered: signed for one migration, sent with another
        refused(_signed_line(node, keys["ops"] + ".key", V1, V2, MIG, migration=str(UP)))
        refused(_signed_line(node, keys["ops"] + ".key", V1, V2, MIG, signature="not base64!"))
        good = _signed_line(node, keys["ops"] + ".key", V1, V2, UP)
        assert c.request(good)["ok"] is True and node.digest == digest(V2)
        # back to v1 with the same code as before: the old signature still names generation 1
        assert c.upgrade(V2, V1, DOWN, key=keys["ops"] + ".key")["version"] == 3
        assert node.digest == digest(V1)
        refused(good)  # replayed: same node, same running code, but a later generation
        other = Node(V1, parse_value("Int 0"))  # another node running the same code at generation 1
        with start_in_thread(other, trust=[auth.load_public_key(keys["ops"] + ".pub")]) as r2, \
                Client(r2.host, r2.port) as c2:
            r = c2.request(good)
            assert r["error"] == "unauthorized" and other.digest == digest(V1)
        assert c.status()["unauthorized"] == 5


def test_without_keys_only_loopback_may_upgrade_and_only_loopback_may_be_bound():
    node = Node(V1, parse_value("Int 0"))
    with start_in_thread(node) as running:
        line = json.dumps({"id": 1, "kind": "upgrade", "old": str(V1), "new": str(V2), "migration": str(MIG)})
        remote = asyncio.run_coroutine_threadsafe(running.server.handle(line.encode(), False), running.loop)
        assert remote.result(10)["error"] == "unauthorized" and node.digest == digest(V1)
        local = asyncio.run_coroutine_threadsafe(running.server.handle(line.encode(), True), running.loop)
        assert local.result(10)["ok"] is True and node.digest == digest(V2)

    async def bind(host: str, trust: list[bytes]) -> None:
        server = NodeServer(Node(V1, parse_value("Int 0")), host, 0, trust=trust)
        await server.start()
        await server.close()

    with pytest.raises(PermissionError, match="--trust"):
        asyncio.run(bind("0.0.0.0", []))
    asyncio.run(bind("0.0.0.0", [bytes(32)]))  # with a trusted key: allowed
    r = cam("node", "--machine", "catlib.examples.counter:counter_sm", "--state", "0", "--host", "0.0.0.0",
            "--port", "0", timeout=30)
    assert r.returncode == 2 and "--trust" in r.stderr


def _self_signed(tmp: Any) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls(tmp_path):
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    node = Node(V1, parse_value("Int 0"))
    with start_in_thread(node, ssl_context=server_ctx) as running:
        with Client(running.host, running.port, ssl_context=ssl.create_default_context(cafile=cert)) as c:
            assert c.do("L Unit").state == parse_value("Int 1")
            assert c.status()["tls"] is True
        with socket.create_connection((running.host, running.port), timeout=10) as s:  # plain text: no answer
            s.sendall(b'{"id": 1, "kind": "do", "input": "L Unit"}\n')
            s.settimeout(10)
            with pytest.raises(OSError):
                while s.recv(4096):
                    pass
                raise ConnectionResetError
        with pytest.raises(ssl.SSLError):  # a client that does not trust the certificate
            Client(running.host, running.port, ssl_context=ssl.create_default_context(), retries=0)
        assert node.inputs == 1


def _http_post(port: int, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(4096):  # the node closes the connection
            data += chunk
    return data


def test_http_requests_change_nothing_and_are_closed():
    lines: list[str] = []
    node = Node(V1, parse_value("Int 0"), emit=lines.extend)
    body = json.dumps({"id": 1, "kind": "do", "input": "L Unit"}).encode() + b"\n"
    upgrade = json.dumps({"id": 2, "kind": "upgrade", "old": str(V1), "new": str(V2), "migration": str(MIG)})
    with start_in_thread(node) as running:
        answer = json.loads(_http_post(running.port, body).split(b"\n")[0])
        assert answer["error"] == "http_refused"
        _http_post(running.port, upgrade.encode() + b"\n")
        if shutil.which("curl"):
            for data in (body, upgrade.encode()):
                subprocess.run(["curl", "-s", "-m", "10", "--data-binary", "@-", f"http://127.0.0.1:{running.port}/"],
                               input=data, capture_output=True, timeout=30)
        with Client(running.host, running.port) as c:
            st = c.status()
        assert (st["inputs"], st["digest"], st["state"]) == (0, digest(V1), "Int 0")
        assert st["http_refused"] == (4 if shutil.which("curl") else 2)
    assert any(s.startswith("Refused an HTTP request") for s in lines)


def test_a_fifo_must_be_private_and_the_nodes_own(tmp_path, monkeypatch):
    shared = tmp_path / "shared.fifo"
    os.mkfifo(shared, 0o600)
    os.chmod(shared, 0o622)  # others may write (mkfifo's mode is masked by the umask)
    with pytest.raises(PermissionError, match="writable by group or others"):
        check_fifo(str(shared))
    with pytest.raises(PermissionError):
        start_in_thread(Node(V1, parse_value("Int 0")), fifo=str(shared))
    mine = tmp_path / "mine.fifo"
    os.mkfifo(mine, 0o600)
    check_fifo(str(mine))
    link = tmp_path / "link.fifo"
    link.symlink_to(mine)
    with pytest.raises(FileExistsError, match="not a named pipe"):
        check_fifo(str(link))
    real = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: real + 1)  # as if another user had made it
    with pytest.raises(PermissionError, match="belongs to user"):
        check_fifo(str(mine))
    monkeypatch.undo()
    r = cam("node", "--machine", "catlib.examples.counter:counter_sm", "--state", "0", "--port", "0",
            "--fifo", str(shared), timeout=30)
    assert r.returncode == 2 and "writable by group or others" in r.stderr


def test_control_characters_from_clients_are_escaped():
    out = io.StringIO()
    transcript = Transcript(out)
    node = Node(V1, parse_value("Int 0"), emit=transcript)
    fake = "\x1b[2K\rUpgrade successful!\n\x9b31m\u202e"
    with start_in_thread(node) as running, Client(running.host, running.port) as c:
        for line in (json.dumps({"id": 1, "kind": "do", "input": fake}), json.dumps({"id": fake, "kind": "zap"}),
                     fake.replace("\n", " ")):
            c.request(line)
        assert c.do("L Unit").state == parse_value("Int 1")
    transcript.flush()
    text = out.getvalue()
    assert "Upgrade successful!" in text  # quoted, on a line that says what it is
    assert not any(ch in text for ch in "\x1b\r\x9b\u202e")
    assert all(not s.startswith("Upgrade successful!") for s in text.splitlines())
    assert "\\x1b[2K\\rUpgrade" in text


def test_error_messages_quote_a_few_hundred_characters():
    node = Node(V1, parse_value("Int 0"), limits=Limits())
    lines: list[str] = []
    node.emit = lines.extend
    with start_in_thread(node) as running, Client(running.host, running.port) as c:
        big = "Pair (Int 1) " * 30_000
        for line in (json.dumps({"id": 1, "kind": "do", "input": big}),
                     json.dumps({"id": 2, "kind": "do", "input": "L (" + "Int 1 " * 30_000 + ")"}),
                     json.dumps({"id": 3, "kind": "upgrade", "old": "[" + "ID," * 30_000, "new": "[]",
                                 "migration": "[]"}),
                     "x" * 1_000_000):
            r = c.request(line)
            assert not r["ok"] and len(r["message"]) <= 1_100, (r["error"], len(r["message"]))
        assert c.do("L Unit").state == parse_value("Int 1")
    assert max(map(len, lines)) <= 1_200


def test_integers_beyond_64_bits_are_bad_values():
    node = Node(V1, parse_value("Int 0"))
    with start_in_thread(node) as running, Client(running.host, running.port) as c:
        for text in ("L (Int 99999999999999999999)", "L (Int " + "9" * 5000 + ")", "Int 18446744073709551616"):
            r = c.request(json.dumps({"id": 1, "kind": "do", "input": text}))
            assert r["error"] == "bad_value", r
        r = c.request('{"id": 1, "kind": "do", "input": {"L": {"Int": ' + "9" * 5000 + "}}}")
        assert r["error"] in ("bad_json", "bad_value"), r
        assert node.inputs == 0 and c.do("L Unit").state == parse_value("Int 1")


def test_a_signature_is_base64_of_64_bytes():
    assert not auth.verify_any([bytes(32)], b"m", base64.b64encode(b"x" * 10).decode())
    assert not auth.verify_any([bytes(32)], b"m", "\u00e9")
    time.sleep(0)


def test_the_command_line_with_keys_and_tls(keys, tmp_path):
    cert, key = _self_signed(tmp_path)
    args = ["--machine", "catlib.examples.counter:counter_sm", "--state", "0", "--port", "0",
            "--trust", keys["ops"] + ".pub", "--cert", cert, "--keyfile", key]
    with NodeProcess(*args) as p:
        conn = ["--host", p.host, "--port", str(p.port), "--tls-ca", cert, "--timeout", "20"]
        mods = "catlib.examples.counter:"
        up = ["upgrade", "--old", mods + "counter_sm", "--new", mods + "counter_sm2", "--migration",
              mods + "upgrade_state", *conn]
        r = cam(*up)
        assert r.returncode == 1 and "unauthorized" in r.stderr
        r = cam(*up, "--key", keys["mallory"] + ".key")
        assert r.returncode == 1 and "unauthorized" in r.stderr
        r = cam(*up, "--key", keys["ops"] + ".key")
        assert r.returncode == 0 and "Upgrade successful!" in r.stdout, r.stderr
        r = cam("status", *conn)
        assert r.returncode == 0 and "Upgrades:  1" in r.stdout
        assert cam("status", "--host", p.host, "--port", str(p.port), "--timeout", "5").returncode == 2  # no TLS
        _, err = p.stop()
    assert "upgrades must be signed by one of 1 trusted key(s): ed25519:" in err


def test_with_keys_the_fifo_cannot_upgrade(keys, tmp_path):
    fifo = tmp_path / "node.fifo"
    lines: list[str] = []
    node = Node(V1, parse_value("Int 0"), emit=lines.extend)
    with start_in_thread(node, fifo=str(fifo), trust=[auth.load_public_key(keys["ops"] + ".pub")]):
        with open(fifo, "w") as f:
            f.write(f"Load {V1} {V2} {MIG}\nDo (L Unit)\n")
        deadline = time.time() + 20
        while "Output:" not in "".join(lines) and time.time() < deadline:
            time.sleep(0.02)
    assert lines[0].startswith("Upgrade refused (unauthorized)")
    assert node.digest == digest(V1) and node.state == parse_value("Int 1")
