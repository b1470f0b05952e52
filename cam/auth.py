"""Who may change a node: Ed25519 keys, signed requests, and their verification in pure Python.

``cam keygen NAME`` writes ``NAME.key`` (the private key, PKCS#8 PEM, mode
0600) and ``NAME.pub`` (the public key, SubjectPublicKeyInfo PEM): standard
files that ``openssl pkey`` reads too.  A node started with ``--trust
NAME.pub`` takes an upgrade (a rollback, a make_permanent) only with a
signature, by one of its trusted keys, over `payload`: the request's kind
(``upgrade``, ``rollback``, ``make_permanent``), the node's id (random, kept in its data directory), its
generation (how many versions it has installed) and running digest, and the
request's own digests.  A signature is therefore good for one node, at one
version, once: it cannot be replayed later (the generation has moved on,
even after a rollback to the same code) or on another node.

Signing needs the `cryptography` package (the operator's machine); the node
verifies with `verify`, a pure-Python implementation of RFC 8032's Ed25519
verification (only public data goes in: no secret, no timing to protect), so
the node's runtime and its one-file bundle need nothing beyond the standard
library.  The test suite checks it against `cryptography` on random messages,
tampered messages and signatures, and wrong keys.

>>> key = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
>>> sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
...                     "d25bf5f0595bbe24655141438e7a100b")
>>> verify(key, b"", sig), verify(key, b"x", sig)     # RFC 8032, section 7.1, test 1
(True, False)
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["payload", "upgrade_fields", "verify", "verify_any", "load_public_key", "fingerprint", "sign", "keygen", "main",
           "PUBLIC_PREFIX"]

DOMAIN = b"hotswap-cat signed request v1\n"
"""Prefix of every signed message: a signature made for anything else never verifies here."""

PUBLIC_PREFIX = bytes.fromhex("302a300506032b6570032100")
"""DER of an Ed25519 SubjectPublicKeyInfo before its 32 key bytes (RFC 8410)."""


def payload(kind: str, node: str, generation: int, running: str, **fields: Any) -> bytes:
    """The bytes a request of `kind` is signed over: the node's id, generation and running digest, and `fields`.

    >>> payload("upgrade", "ab12", 1, "sha256:00", new="sha256:11")[30:]
    b'{"generation":1,"kind":"upgrade","new":"sha256:11","node":"ab12","running":"sha256:00"}'
    """
    body = {"kind": kind, "node": node, "generation": generation, "running": running, **fields}
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def upgrade_fields(old: str, new: str, migration: str, down: str | None = None, name: str = "",
                   probation: bool = False, input_adapter: str | None = None,
                   output_adapter: str | None = None) -> dict[str, Any]:
    """The fields an upgrade's signature covers, from its digests: the parts added since the first signed
    upgrades (down-migration, name, probation, adapters) only when present, so those signatures stay what they were.

    >>> upgrade_fields("sha256:0", "sha256:1", "sha256:2", probation=True)
    {'old': 'sha256:0', 'new': 'sha256:1', 'migration': 'sha256:2', 'probation': True}
    """
    fields: dict[str, Any] = {"old": old, "new": new, "migration": migration}
    if down is not None:
        fields["down"] = down
    if name:
        fields["name"] = name
    if probation:
        fields["probation"] = True
    for k, v in (("input_adapter", input_adapter), ("output_adapter", output_adapter)):
        if v is not None:
            fields[k] = v
    return fields


# ---------------------------------------------------------------- Ed25519 verification (RFC 8032, section 6)

_P = 2**255 - 19
_Q = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_Point = tuple[int, int, int, int]


def _add(p: _Point, q: _Point) -> _Point:
    a, b = (p[1] - p[0]) * (q[1] - q[0]) % _P, (p[1] + p[0]) * (q[1] + q[0]) % _P
    c, d = 2 * p[3] * q[3] * _D % _P, 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _mul(s: int, p: _Point) -> _Point:
    q: _Point = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(p: _Point, q: _Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 % _P == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    return _P - x if (x & 1) != sign else x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
assert _GX is not None
_G: _Point = (_GX, _GY, 1, _GX * _GY % _P)


def _decompress(s: bytes) -> _Point | None:
    y = int.from_bytes(s, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` (64 bytes) is `public`'s (32 bytes) Ed25519 signature of `message` (RFC 8032)."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _Q
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


def verify_any(keys: Iterable[bytes], message: bytes, signature: str) -> bool:
    """Whether the base64 `signature` of `message` verifies with one of `keys`."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    return any(verify(k, message, raw) for k in keys)


def load_public_key(path: str) -> bytes:
    """The 32 bytes of the Ed25519 public key in PEM file `path` (as ``cam keygen`` writes it).  `ValueError`."""
    with open(path, "rb") as f:
        text = f.read(4096)
    lines = [s.strip() for s in text.decode("ascii", "replace").splitlines() if s.strip()]
    if not lines or lines[0] != "-----BEGIN PUBLIC KEY-----" or lines[-1] != "-----END PUBLIC KEY-----":
        raise ValueError(f"{path} is not a PEM public key (cam keygen NAME writes NAME.pub)")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except binascii.Error as e:
        raise ValueError(f"{path}: bad base64: {e}") from None
    if len(der) != 44 or not der.startswith(PUBLIC_PREFIX):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return der[12:]


def fingerprint(key: bytes) -> str:
    """A short name for a public key: ``ed25519:`` and 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(key).hexdigest()[:16]


# ---------------------------------------------------------------- keys and signing (needs `cryptography`)


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise RuntimeError("signing needs the 'cryptography' package (pip install cryptography); "
                           "a node verifies without it") from None
    return serialization, ed25519


def keygen(name: str) -> tuple[str, str]:
    """Write a new key pair ``NAME.key`` (mode 0600) and ``NAME.pub``; never overwrites.  Returns the paths."""
    serialization, ed25519 = _crypto()
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    paths = (f"{name}.key", f"{name}.pub")
    for path, data, mode in ((paths[0], private, 0o600), (paths[1], public, 0o644)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return paths


def sign(key_path: str, message: bytes) -> str:
    """The base64 Ed25519 signature of `message` by the private key in PEM file `key_path`."""
    serialization, ed25519 = _crypto()
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{key_path} is not an Ed25519 private key")
    return base64.b64encode(key.sign(message)).decode("ascii")


def main(argv: list[str]) -> int:
    """``cam keygen NAME``: write ``NAME.key`` and ``NAME.pub``."""
    p = argparse.ArgumentParser(prog="cam keygen", description=(
        "Write an Ed25519 key pair: NAME.key (private, mode 0600: sign upgrades with cam upgrade --key NAME.key) "
        "and NAME.pub (public: start nodes with --trust NAME.pub)."))
    p.add_argument("name", help="path and name of the pair, without extension")
    a = p.parse_args(argv)
    try:
        key, pub = keygen(a.name)
    except FileExistsError as e:
        print(f"cam keygen: {e.filename} exists; not overwritten", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as e:
        print(f"cam keygen: {e}", file=sys.stderr)
        return 2
    print(f"Private key: {key} (keep it secret)\nPublic key:  {pub} ({fingerprint(load_public_key(pub))})")
    return 0
