"""Talk to a node: send inputs, upgrade it, ask its status.

The seed's REPL session, in a Python REPL, against a node started with
``cam node --machine catlib.examples.counter:counter_sm --state 0`` (here one
is started in this process, in a thread, on a free port; `connect` makes it
the default node):

    >>> from cam.client import *
    >>> from cam.text import parse_value
    >>> from cam.node import Node
    >>> from cam.server import start_in_thread
    >>> from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state
    >>> node = start_in_thread(Node(as_code(counter_sm), parse_value("Int 0")))
    >>> _ = connect(node.host, node.port)
    >>> incr(); count()
    1
    >>> upgrade(Upgrade(counter_sm, counter_sm2, upgrade_state))
    >>> incr(); incr(); count()
    2
    >>> upgrade(Upgrade(counter_sm, counter_sm2, upgrade_state))
    Traceback (most recent call last):
      ...
    cam.client.NodeError: wrong_version: the upgrade expects sha256:..., the node runs sha256:...
    >>> node.stop()

The module-level functions talk to the default node, ``127.0.0.1:7700``
(``CAM_NODE=host:port`` in the environment, or `connect`, changes it).  A
`Client` talks to any node.  Values may be host values (``()``, ints,
2-tuples, `Left`/`Right`, closures: they are quoted), machine values (`cam.code`), or
text (``"L Unit"``); code may be a free term (it is compiled), a
`catlib.program.Program`, `cam.code.Code` or its text.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

from cam import auth
from cam.code import Code, Value, to_text
from cam.compiler import compile, compile_value
from cam.probes import Probe, probes_digest
from cam.text import digest, parse_code, parse_value, to_json
from catlib.program import Upgrade
from catlib.values import Left, Right

__all__ = ["Client", "NodeError", "Upgrade", "Reply", "connect", "incr", "count", "upgrade", "do", "status",
           "DEFAULT_HOST", "DEFAULT_PORT", "as_code", "as_value", "as_probe"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7700


class NodeError(Exception):
    """The node refused a request: `kind` is the machine-readable error (see `cam.node.ERRORS`)."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind, self.message = kind, message
        super().__init__(f"{kind}: {message}")


class Reply(NamedTuple):
    """The answer to one input: the machine's output, the node's new state, the steps it took."""

    output: Value
    state: Value
    steps: int


def as_code(x: Any) -> Code:
    """Code from a free term (compiled), a `catlib.program.Program`, `Code`, or code text."""
    from catlib.free import Term

    if isinstance(x, Code):
        return x
    if isinstance(x, str):
        return parse_code(x)
    if isinstance(x, Term):
        return compile(x)
    term = getattr(x, "term", None)  # a catlib.program.Program
    if isinstance(term, Term):
        return as_code(term)
    raise TypeError(f"cannot make code of {x!r}: give a term, a Program, Code or code text")


def as_value(x: Any) -> Value:
    """A machine value from a machine value, its text, or a host value (quoted; a closure's body compiled, as
    ``CURRY`` makes it: `cam.compiler.compile_value`)."""
    if isinstance(x, Value):
        return x
    if isinstance(x, str):
        return parse_value(x)
    return compile_value(x)


def as_probe(x: Any, number: int = 1) -> Probe:
    """A probe from a `Probe`, a value (it must not fail) or a 2-tuple (value, expected output)."""
    if isinstance(x, Probe):
        return x
    if isinstance(x, tuple) and len(x) == 2:
        return Probe(as_value(x[0]), as_value(x[1]), None, number)
    return Probe(as_value(x), None, None, number)


def _field(c: Code | Value) -> str:
    """The JSON document of code or a value; deeply nested ones travel as text (JSON parsers recurse)."""
    return to_json(c) if _depth_ok(c) else json.dumps(to_text(c))


def _depth_ok(c: Code | Value, limit: int = 100) -> bool:
    todo = [(c, 1)]
    while todo:
        t, d = todo.pop()
        if d > limit:
            return False
        todo.extend((k, d + 1) for k in t.kids)
    return True


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Value:
    return parse_value(text)


def _parse_reply(text: str) -> Value:
    """A value from a response: answers repeat, so short ones are parsed once (values are immutable)."""
    return _parse_cached(text) if len(text) <= 256 else parse_value(text)


class Client:
    """A connection to one node.  Thread-safe: concurrent calls are sent one at a time.

    Every ``do`` and ``upgrade`` carries this client's random id and a sequence number, so it is
    applied at most once: when an answer does not come within `timeout` seconds, or the connection
    breaks, the client drops the connection (it is never reused half-read), connects again and
    sends the same request, up to `retries` more times; the node answers a request it has already
    applied with its first answer.  `ssl_context` speaks TLS; `key` (a ``cam keygen`` private key
    file) signs upgrades for nodes started with ``--trust``.

    >>> from cam.text import parse_code, parse_value
    >>> from cam.node import Node
    >>> from cam.server import start_in_thread
    >>> counter = parse_code("[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] "
    ...                      "[ID,GET,INR,RETURN]]")
    >>> with start_in_thread(Node(counter, parse_value("Int 0"))) as node, Client(node.host, node.port) as c:
    ...     c.do(Left(()))
    ...     c.do("R Unit").output
    Reply(output=L(UnitV), state=IntV(1), steps=16)
    R(IntV(1))
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float | None = 60.0,
                 retries: int = 3, ssl_context: ssl.SSLContext | None = None, key: str | None = None,
                 client_id: str | None = None) -> None:
        self.host, self.port, self.timeout, self.retries = host, port, timeout, retries
        self.ssl_context, self.key = ssl_context, key
        self.client_id = client_id or secrets.token_hex(16)
        self.retried = 0
        """How many requests were sent again after a timeout or a broken connection."""
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._file: Any = None
        self._connect()

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        self._sock, self._file = sock, sock.makefile("rb")

    def _drop(self) -> None:
        """Close the connection (after a timeout it may hold half an answer: it is never read again)."""
        for x in (self._file, self._sock):
            if x is not None:
                try:
                    x.close()
                except OSError:
                    pass
        self._sock = self._file = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, line: str) -> dict[str, Any]:
        """Send one raw request line (without its newline); return the response, errors included.

        On a timeout or a broken connection the connection is dropped (the next request connects
        again) and the error is raised: a raw line is never sent twice.
        """
        with self._lock:
            try:
                if self._sock is None:
                    self._connect()
                assert self._sock is not None
                self._sock.sendall(line.encode() + b"\n")
                answer = self._file.readline()
            except (OSError, ValueError):  # TimeoutError is an OSError; ValueError: a closed file
                self._drop()
                raise
            if not answer.endswith(b"\n"):
                self._drop()
                raise ConnectionError(f"the node at {self.host}:{self.port} closed the connection")
        return json.loads(answer)

    def _call(self, kind: str, **fields: str) -> dict[str, Any]:
        rid = next(self._ids)
        if kind != "status":
            fields = {"client": json.dumps(self.client_id), "seq": str(next(self._seq)), **fields}
        body = "".join(f',"{k}":{v}' for k, v in fields.items())
        line = f'{{"id":{rid},"kind":"{kind}"{body}}}'
        for attempt in range(self.retries + 1):
            try:
                response = self.request(line)
                break
            except (OSError, ValueError):
                if attempt == self.retries:
                    raise
                self.retried += 1
                time.sleep(min(0.05 * 2**attempt, 1.0))
        # A refusal with id null answers the connection or an unreadable line (too_many_connections, bad_json...).
        if not response.get("ok") and response.get("id") in (rid, None):
            raise NodeError(response.get("error", "?"), response.get("message", ""))
        if response.get("id") != rid:
            self.close()
            raise ConnectionError(f"response {response.get('id')!r} to request {rid}: out of step")
        return response

    def do(self, value: Any, interface: int | None = None) -> Reply:
        """Run one input on the node; return its output, the new state and the steps taken.

        `interface` names the interface the input and output speak (``status()["interfaces"]``); without,
        the oldest the node serves (what it meant to the clients that were there first).
        """
        extra = {} if interface is None else {"interface": str(int(interface))}
        r = self._call("do", input=json.dumps(to_text(as_value(value))), **extra)
        return Reply(_parse_reply(r["output"]), _parse_reply(r["state"]), r["steps"])

    def upgrade(self, old: Any, new: Any = None, migration: Any = None, key: str | None = None,
                down: Any = None, name: str | None = None, probation: bool = False, input_adapter: Any = None,
                output_adapter: Any = None, probes: Any = ()) -> dict[str, Any]:
        """Upgrade the node from `old` to `new`, converting its state with `migration`.

        Each is a term, a `catlib.program.Program`, `Code` or code text; or give a
        `catlib.program.Upgrade` as the only argument.  `down` (same forms) is the way back
        (``() / new state -> old state``, for `rollback`); `name` names the new version (default: a
        `Program`'s name); with `probation` a machine error rolls it back until `make_permanent`.
        `input_adapter` (``() / old input -> new input``) and `output_adapter` (``() / new output -> old
        output``) let the new machine change its interface: the node keeps serving the old ones
        (`cam.interfaces`).  `probes`: inputs the new version must pass before it is installed (and, on
        probation, again at `make_permanent`: `cam.probes`): each a value (must not fail) or a pair
        (value, expected output), or a `cam.probes.Probe`.  With `key` (or the client's), the upgrade is
        signed for the node's current id, generation and version (read with ``status`` first).  Returns
        the node's answer: new digest, name, signature, state, check time, version number.
        """
        fields, sign = self._upgrade_fields(old, new, migration, down, name, probation, input_adapter,
                                            output_adapter, probes)
        return self._call("upgrade", **self._signed("upgrade", key, sign, fields))

    def prepare(self, token: str, old: Any, new: Any = None, migration: Any = None, hold: float = 30.0,
                key: str | None = None, **upgrade: Any) -> dict[str, Any]:
        """Prepare a release's upgrade (`cam.hold`): every check, nothing changed, the upgrade held under
        `token` for `hold` seconds (other upgrades are refused meanwhile).  `upgrade`: `upgrade`'s keywords."""
        fields, sign = self._upgrade_fields(old, new, migration, **upgrade)
        fields.update(token=json.dumps(token), hold=json.dumps(hold))
        return self._call("prepare", **self._signed("prepare", key, lambda: {**sign(), "token": token,
                                                                            "hold": float(hold)}, fields))

    def commit(self, token: str, key: str | None = None) -> dict[str, Any]:
        """Install the upgrade prepared under `token` (``not_prepared`` if none is held); the upgrade's answer."""
        return self._call("commit", **self._signed("commit", key, lambda: {"token": token},
                                                   {"token": json.dumps(token)}))

    def abort(self, token: str, key: str | None = None) -> dict[str, Any]:
        """Drop the upgrade prepared under `token` (``not_prepared`` if none is held)."""
        return self._call("abort", **self._signed("abort", key, lambda: {"token": token},
                                                  {"token": json.dumps(token)}))

    @staticmethod
    def _upgrade_fields(old: Any, new: Any, migration: Any, down: Any = None, name: str | None = None,
                        probation: bool = False, input_adapter: Any = None, output_adapter: Any = None,
                        probes: Any = ()) -> tuple[dict[str, str], Callable[[], dict[str, Any]]]:
        """(request fields, what makes the fields its signature covers) of an upgrade: the digests these hold
        are made only for a signed request."""
        if new is None and migration is None:  # a catlib.program.Upgrade: its optional parts too, unless given
            u = old
            old, new, migration = u.old, u.new, u.migration
            down = u.down if down is None else down
            input_adapter = u.input_adapter if input_adapter is None else input_adapter
            output_adapter = u.output_adapter if output_adapter is None else output_adapter
        if name is None:
            name = getattr(new, "name", "") if hasattr(new, "term") else ""
        codes = [as_code(c) for c in (old, new, migration)]
        down_code = None if down is None else as_code(down)
        fields = {k: _field(c) for k, c in zip(("old", "new", "migration"), codes)}
        if down_code is not None:
            fields["down"] = _field(down_code)
        if name:
            fields["name"] = json.dumps(name)
        if probation:
            fields["probation"] = "true"
        ia, oa = (None if a is None else as_code(a) for a in (input_adapter, output_adapter))
        for k, a in (("input_adapter", ia), ("output_adapter", oa)):
            if a is not None:
                fields[k] = _field(a)
        ps = [as_probe(p, n) for n, p in enumerate(probes, 1)]
        if ps:
            fields["probes"] = json.dumps([p.image() for p in ps])

        def sign() -> dict[str, Any]:
            covered = auth.upgrade_fields(digest(codes[0]), digest(codes[1]), digest(codes[2]), name=name,
                                          down=None if down_code is None else digest(down_code),
                                          probation=probation, input_adapter=None if ia is None else digest(ia),
                                          output_adapter=None if oa is None else digest(oa))
            if ps:
                covered["probes"] = probes_digest(ps)
            return covered

        return fields, sign

    def rollback(self, discard: bool = False, key: str | None = None) -> dict[str, Any]:
        """Reinstall the version under the running one (its down-migration carries the state back).

        Without a down-migration the node refuses (``needs_discard``) unless `discard`: then the
        state saved at that upgrade comes back, and the answer's ``forgotten`` says how many inputs
        served since are lost.  Returns the node's answer: digest, name, version, note, state.
        """
        fields = {"discard": "true"} if discard else {}
        return self._call("rollback", **self._signed("rollback", key, lambda: {"discard": discard}, fields))

    def make_permanent(self, key: str | None = None) -> dict[str, Any]:
        """End the running version's probation (``not_on_probation`` if it is not on it)."""
        return self._call("make_permanent", **self._signed("make_permanent", key, dict, {}))

    def _signed(self, kind: str, key: str | None, covered: Callable[[], dict[str, Any]], fields: dict[str, str]
                ) -> dict[str, str]:
        """`fields` with a signature over what `covered` makes, for the node's current id, generation and
        digest, if a key (without, `covered` is not called: its digests are not needed)."""
        key = key or self.key
        if key is None:
            return fields
        st = self.status()
        message = auth.payload(kind, st["node_id"], st["generation"], st["digest"], **covered())
        return {**fields, "signature": json.dumps(auth.sign(key, message))}

    def status(self, code: bool = False) -> dict[str, Any]:
        """The node's version (name, number, digest), signature, state, counts and history; with `code`,
        also the running code's text (``code``)."""
        return self._call("status", **({"code": "true"} if code else {}))


# ---------------------------------------------------------------- the default node, for a REPL

_default: Client | None = None


def connect(host: str | None = None, port: int | None = None) -> Client:
    """Make (host, port) the default node (from ``CAM_NODE=host:port``, else 127.0.0.1:7700) and connect."""
    global _default
    if host is None or port is None:
        env_host, _, env_port = os.environ.get("CAM_NODE", f"{DEFAULT_HOST}:{DEFAULT_PORT}").rpartition(":")
        host = host or env_host or DEFAULT_HOST
        port = port or int(env_port)
    if _default is not None:
        _default.close()
    _default = Client(host, port)
    return _default


def _client() -> Client:
    return _default if _default is not None else connect()


def do(value: Any) -> Reply:
    """Send one input to the default node."""
    return _client().do(value)


def incr() -> None:
    """The counter's ``incr``: input ``L Unit`` (the node prints the output and the new state)."""
    _client().do(Left(()))


def count() -> int:
    """The counter's ``count``: input ``R Unit``; returns the count."""
    out = _client().do(Right(())).output
    return out.value.n  # type: ignore[attr-defined]


def upgrade(u: Any) -> None:
    """Upgrade the default node: ``upgrade(Upgrade(counter_sm, counter_sm2, upgrade_state))``.

    Raises `NodeError` (kind ``wrong_version``, ...) if the node refuses it.
    """
    _client().upgrade(u)


def status() -> dict[str, Any]:
    """The default node's status."""
    return _client().status()
