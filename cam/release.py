"""Releases across nodes: one upgrade file, two phases (or one node at a time), and an exact report.

A release file (TOML) names nodes by address and, for each, the upgrade it
gets; an upgrade's parts are ``MODULE:NAME`` (a term or a
`catlib.program.Program`, compiled here), code text ``[...]``, or a file
holding bytecode (its text form or JSON document; a path relative to the
release file)::

    hold = 30          # seconds each node holds its prepared upgrade (at most 300)
    timeout = 10       # seconds to wait for each answer
    pause = 1          # --rolling: seconds each node runs on probation before the next

    [upgrades.v2]
    old = "catlib.examples.counter:COUNTER"
    new = "catlib.examples.counter:COUNTER2"
    migration = "catlib.examples.counter:MIGRATION"
    down = "catlib.examples.counter:DOWNGRADE"           # optional, as are name, probation,
    probes = [{input = "R Unit", expect = "R (Int 0)"}]  # input_adapter, output_adapter, probes

    [nodes."127.0.0.1:7701"]
    upgrade = "v2"
    # key = "ops.key"  (signs for a node started with --trust)   id = "..."  (the node's id: another is refused)

`check` asks every node to prepare its upgrade (`cam.hold`: every check, the
probes, nothing changed) and then aborts every prepared one.  `apply` runs
two phases: prepare on every node (concurrently); if any node refuses or does
not answer within ``timeout``, every prepared one is aborted and none
changes.  Then commit on every node, in file order; if a commit fails (the
node refuses, dies or does not answer), the remaining nodes are aborted and
the committed ones are rolled back (with the upgrade's down-migration, or
else to the state saved at the upgrade: the report says how many inputs that
forgets).  `rolling` upgrades one node at a time, on probation, with its
probes, waits ``pause`` seconds, makes it permanent (its probes run again)
and stops at the first failure, leaving the nodes before it upgraded.  In
every case the report ends with each node's version as the node itself then
reports it (``status``), or says that the node cannot be reached.

A release file that is malformed (not TOML, unknown keys, an upgrade that
is not defined, a part that cannot be loaded, a bad address) raises
`ReleaseError` before any node is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cam.client import Client, NodeError, as_code, as_probe
from cam.code import Code
from cam.hold import MAX_HOLD
from cam.probes import Probe
from cam.spec import load as load_object
from cam.spec import parse_probe
from cam.text import ParseError, digest, from_json, parse_value

__all__ = ["Release", "NodeUpgrade", "ReleaseError", "Outcome", "Report", "load", "parse", "check", "apply",
           "rolling", "main"]

_MODULE_NAME = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_TOP = {"hold", "timeout", "pause", "upgrades", "nodes"}
_UPGRADE = {"old", "new", "migration", "down", "name", "probation", "input_adapter", "output_adapter", "probes"}
_NODE = {"upgrade", "key", "id"}


class ReleaseError(Exception):
    """A release file that cannot be used (nothing was sent to any node)."""


@dataclass(frozen=True)
class NodeUpgrade:
    """One node of a release and the upgrade it gets."""

    address: str
    host: str
    port: int
    upgrade: str
    """The name of its ``[upgrades.NAME]`` table."""
    old: Code
    new: Code
    migration: Code
    down: Code | None = None
    input_adapter: Code | None = None
    output_adapter: Code | None = None
    name: str = ""
    probation: bool = False
    probes: tuple[Probe, ...] = ()
    key: str | None = None
    node_id: str | None = None

    def fields(self, probation: bool | None = None, probes: tuple[Probe, ...] | None = None) -> dict[str, Any]:
        """`cam.client.Client.upgrade`'s keywords for this upgrade."""
        return {"down": self.down, "name": self.name, "input_adapter": self.input_adapter,
                "output_adapter": self.output_adapter,
                "probation": self.probation if probation is None else probation,
                "probes": self.probes if probes is None else probes}


@dataclass(frozen=True)
class Release:
    """A parsed release file."""

    nodes: tuple[NodeUpgrade, ...]
    hold: float = 30.0
    timeout: float = 10.0
    pause: float = 1.0
    source: str = "<release>"


def _part(spec: Any, what: str, base: str) -> Code:
    """Code from ``MODULE:NAME``, code text ``[...]`` or a bytecode file (relative to `base`)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ReleaseError(f"{what} is MODULE:NAME, code text '[...]' or a bytecode file, not {spec!r}")
    try:
        if spec.lstrip().startswith("["):
            return as_code(spec)
        if _MODULE_NAME.fullmatch(spec):
            return as_code(load_object(spec))
        path = spec if os.path.isabs(spec) else os.path.join(base, spec)
        with open(path) as f:
            text = f.read().strip()
        c = from_json(text) if text.startswith("{") else as_code(text)
        if not isinstance(c, Code):
            raise ReleaseError(f"{what}: {path} holds a value, not code")
        return c
    except ReleaseError:
        raise
    except (ImportError, AttributeError, OSError, ParseError, ValueError, TypeError) as e:
        raise ReleaseError(f"{what} ({spec}) cannot be loaded: {type(e).__name__}: {e}") from None


def _probes(x: Any, what: str) -> tuple[Probe, ...]:
    if not isinstance(x, list) or not all(isinstance(p, dict) and "input" in p and set(p) <= {"input", "expect"}
                                          for p in x):
        raise ReleaseError(f"{what}.probes is a list of {{input = \"VALUE\", expect = \"VALUE\"}} (expect optional)")
    try:
        return tuple(as_probe((parse_value(p["input"]), parse_value(p["expect"])) if "expect" in p
                              else parse_value(p["input"]), n) for n, p in enumerate(x, 1))
    except (ParseError, TypeError) as e:
        raise ReleaseError(f"{what}.probes: {e}") from None


def _number(d: dict[str, Any], key: str, default: float, high: float, zero: bool = False) -> float:
    x = d.get(key, default)
    if type(x) not in (int, float) or not (0 <= x if zero else 0 < x) or x > high:
        raise ReleaseError(f"{key} is a number of seconds, {'at least' if zero else 'more than'} 0 and at most "
                           f"{high:g}, not {x!r}")
    return float(x)


def parse(text: str, base: str = ".", source: str = "<release>") -> Release:
    """The release described by TOML `text` (parts' files relative to `base`); `ReleaseError` if malformed."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ReleaseError(f"{source} is not TOML: {e}") from None
    if set(doc) - _TOP:
        raise ReleaseError(f"{source}: unknown key(s) {', '.join(sorted(set(doc) - _TOP))}; the keys are "
                           f"{', '.join(sorted(_TOP))}")
    ups, nodes = doc.get("upgrades", {}), doc.get("nodes", {})
    if not isinstance(ups, dict) or not isinstance(nodes, dict) or not nodes:
        raise ReleaseError(f"{source}: a release needs [upgrades.NAME] tables and at least one [nodes.\"HOST:PORT\"]")
    loaded: dict[str, dict[str, Any]] = {}
    for uname, u in ups.items():
        where = f"{source}: [upgrades.{uname}]"
        if not isinstance(u, dict) or set(u) - _UPGRADE or not {"old", "new", "migration"} <= set(u):
            raise ReleaseError(f"{where} needs old, new, migration and may have "
                               f"{', '.join(sorted(_UPGRADE - {'old', 'new', 'migration'}))}"
                               + (f"; unknown: {', '.join(sorted(set(u) - _UPGRADE))}" if isinstance(u, dict) else ""))
        parts = {k: _part(u[k], f"{where} {k}", base) for k in
                 ("old", "new", "migration", "down", "input_adapter", "output_adapter") if k in u}
        name = u.get("name", u["new"] if _MODULE_NAME.fullmatch(str(u["new"])) else "")
        if not isinstance(name, str) or not isinstance(u.get("probation", False), bool):
            raise ReleaseError(f"{where}: name is a string and probation a boolean")
        loaded[uname] = {**parts, "name": name, "probation": u.get("probation", False),
                         "probes": _probes(u.get("probes", []), where)}
    out = []
    for address, n in nodes.items():
        where = f"{source}: [nodes.\"{address}\"]"
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ReleaseError(f"{where}: a node is named by its address HOST:PORT")
        if not isinstance(n, dict) or set(n) - _NODE or "upgrade" not in n:
            raise ReleaseError(f"{where} needs upgrade = \"NAME\" (and may have key, id)")
        if n["upgrade"] not in loaded:
            raise ReleaseError(f"{where}: upgrade {n['upgrade']!r} is not defined (defined: "
                               f"{', '.join(sorted(loaded)) or 'none'})")
        key = n.get("key")
        if key is not None and not os.path.isabs(key):
            key = os.path.join(base, key)
        out.append(NodeUpgrade(address, host.strip("[]"), int(port), n["upgrade"], key=key, node_id=n.get("id"),
                               **loaded[n["upgrade"]]))
    return Release(tuple(out), _number(doc, "hold", 30.0, MAX_HOLD), _number(doc, "timeout", 10.0, 3600),
                   _number(doc, "pause", 1.0, 3600, zero=True), source)


def load(path: str) -> Release:
    """The release file at `path` (`parse`)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ReleaseError(f"cannot read {path}: {e}") from None
    return parse(text, os.path.dirname(os.path.abspath(path)), path)


@dataclass
class Outcome:
    """What happened on one node, and the version it runs at the end (``None``: it cannot be reached)."""

    address: str
    state: str
    """``prepared``, ``aborted``, ``committed``, ``rolled back``, ``refused``, ``no answer``, ``unreachable``..."""
    detail: str = ""
    version: dict[str, Any] | None = None
    """``{"version", "name", "digest", "probation"}`` from the node's final status."""

    def line(self) -> str:
        v = self.version
        where = ("unreachable: its version is unknown" if v is None else
                 f"v{v['version']} {v['name'] or '(code)'} {v['digest'][:15]}{' (probation)' if v['probation'] else ''}")
        return f"  {self.address:<21} {self.state:<12} {where}{'  -- ' + self.detail if self.detail else ''}"


@dataclass
class Report:
    """A release's result: whether it did what was asked, a summary, and every node's outcome."""

    ok: bool
    summary: str
    nodes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        return "\n".join([f"{self.summary} ({self.seconds:.2f} s)", *(o.line() for o in self.nodes)])


def _client(n: NodeUpgrade, timeout: float, retries: int) -> Client:
    return Client(n.host, n.port, timeout=timeout, retries=retries, key=n.key)


def _why(e: Exception) -> str:
    if isinstance(e, NodeError):
        return f"{e.kind}: {e.message}"
    if isinstance(e, TimeoutError):
        return "no answer within the timeout"
    return f"{type(e).__name__}: {e}"


def _call(n: NodeUpgrade, timeout: float, retries: int, f: Callable[[Client], Any]) -> Any:
    """`f` on a fresh connection to `n` (closed after)."""
    with _client(n, timeout, retries) as c:
        return f(c)


def _prepare(release: Release, n: NodeUpgrade, token: str) -> Outcome:
    def go(c: Client) -> Outcome:
        if n.node_id is not None and c.status()["node_id"] != n.node_id:
            return Outcome(n.address, "refused", f"unknown node: {n.address} is not node {n.node_id}")
        r = c.prepare(token, n.old, n.new, n.migration, hold=release.hold, **n.fields())
        return Outcome(n.address, "prepared", f"prepared v{r['version']} {r['name'] or '(code)'} (checked in "
                                              f"{r['check_seconds'] * 1000:.1f} ms)")
    try:
        # No retry: a prepare that does not answer in time counts as a refusal.
        return _call(n, release.timeout, 0, go)
    except NodeError as e:
        return Outcome(n.address, "refused", _why(e))
    except ConnectionRefusedError as e:  # nothing was sent: nothing to abort
        return Outcome(n.address, "unreachable", _why(e))
    except (OSError, ValueError) as e:
        return Outcome(n.address, "no answer", _why(e))


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _abort(release: Release, n: NodeUpgrade, token: str, o: Outcome) -> None:
    """Abort `token` on `n` (also where the prepare got no answer: it may have been held since)."""
    was = o.state
    if was == "unreachable":
        return
    try:
        _call(n, release.timeout, 1, lambda c: c.abort(token))
        if was == "prepared":
            o.state = "aborted"
        else:
            o.detail = _join(o.detail, "its late prepare was aborted")
    except NodeError as e:
        if e.kind != "not_prepared":
            o.detail = _join(o.detail, f"abort refused ({_why(e)}): its hold expires within {release.hold:g} s")
        elif was == "prepared":
            o.state, o.detail = "aborted", _join(o.detail, "its hold had expired")
    except (OSError, ValueError) as e:
        o.detail = _join(o.detail, f"abort got no answer ({_why(e)}): any hold expires within {release.hold:g} s")


def _finish(release: Release, outcomes: list[Outcome]) -> None:
    """Every node's version as it reports it now."""
    def status(n: NodeUpgrade) -> dict[str, Any] | None:
        try:
            s = _call(n, release.timeout, 0, lambda c: c.status())
        except (OSError, ValueError, NodeError):
            return None
        return {k: s[k] for k in ("version", "name", "digest", "probation")}
    with ThreadPoolExecutor(len(release.nodes)) as pool:
        for o, v in zip(outcomes, pool.map(status, release.nodes)):
            o.version = v


def _prepare_all(release: Release, token: str) -> list[Outcome]:
    with ThreadPoolExecutor(len(release.nodes)) as pool:
        return list(pool.map(lambda n: _prepare(release, n, token), release.nodes))


def check(release: Release) -> Report:
    """Every node prepares its upgrade (all checks, probes), then every prepared one is aborted: nothing changes."""
    t0, token = time.perf_counter(), "check-" + secrets.token_hex(8)
    outcomes = _prepare_all(release, token)
    passed = [o.state == "prepared" for o in outcomes]
    for n, o in zip(release.nodes, outcomes):
        _abort(release, n, token, o)
        if o.state == "aborted":
            o.state, o.detail = "ok", _join(o.detail, "every check passed; aborted: nothing changed")
    _finish(release, outcomes)
    bad = [o.address for o, p in zip(outcomes, passed) if not p]
    summary = (f"release check {release.source}: every node ({len(outcomes)}) would take its upgrade" if not bad else
               f"release check {release.source}: refused by {', '.join(bad)}")
    return Report(not bad, summary, outcomes, time.perf_counter() - t0)


def apply(release: Release, after_prepare: Callable[[list[Outcome]], None] | None = None) -> Report:
    """Prepare on every node, then commit on every node (see the module's doc for what happens on failure).

    `after_prepare` is called between the phases with the prepare outcomes (tests use it to kill a node).
    """
    t0, token = time.perf_counter(), "release-" + secrets.token_hex(8)
    outcomes = _prepare_all(release, token)
    bad = [o for o in outcomes if o.state != "prepared"]
    if bad:
        for n, o in zip(release.nodes, outcomes):
            _abort(release, n, token, o)
        _finish(release, outcomes)
        return Report(False, f"release apply {release.source}: not applied, no node changed: prepare refused by "
                             f"{', '.join(f'{o.address} ({o.state})' for o in bad)}", outcomes, time.perf_counter() - t0)
    if after_prepare is not None:
        after_prepare(outcomes)
    failed: Outcome | None = None
    committed: list[tuple[NodeUpgrade, Outcome]] = []
    for n, o in zip(release.nodes, outcomes):
        if failed is not None:
            _abort(release, n, token, o)
            continue
        try:
            _call(n, release.timeout, 1, lambda c: c.commit(token))
            o.state, o.detail = "committed", ""
            committed.append((n, o))
        except (NodeError, OSError, ValueError) as e:
            o.state, o.detail, failed = "commit failed", _why(e), o
            if not isinstance(e, NodeError):  # no answer: it may have committed; find out
                _maybe_committed(release, n, o, committed)
    if failed is not None:
        for n, o in reversed(committed):
            try:
                r = _call(n, release.timeout, 1, lambda c: c.rollback(discard=True))
                o.state = "rolled back"
                o.detail = f"{r['note']}{', ' + str(r['forgotten']) + ' input(s) forgotten' if r['forgotten'] else ''}"
            except (NodeError, OSError, ValueError) as e:
                o.state, o.detail = "NOT rolled back", f"its rollback failed: {_why(e)}"
    _finish(release, outcomes)
    if failed is None:
        return Report(True, f"release apply {release.source}: committed on every node ({len(outcomes)})", outcomes,
                      time.perf_counter() - t0)
    return Report(False, f"release apply {release.source}: commit failed on {failed.address}; "
                         f"{len(committed)} committed node(s) rolled back", outcomes, time.perf_counter() - t0)


def _maybe_committed(release: Release, n: NodeUpgrade, o: Outcome, committed: list[tuple[NodeUpgrade, Outcome]]) -> None:
    """After a commit without answer: if the node now runs the new code, it committed (and will be rolled back)."""
    try:
        s = _call(n, release.timeout, 0, lambda c: c.status())
    except (OSError, ValueError, NodeError):
        o.detail += "; unreachable since"
        return
    if s["digest"] == digest(n.new) and s.get("held") is None:
        committed.append((n, o))


def rolling(release: Release, probes: tuple[Probe, ...] = (), pause: float | None = None,
            sleep: Callable[[float], None] = time.sleep) -> Report:
    """One node at a time: upgrade on probation with its probes (and `probes`), wait `pause` seconds, make it
    permanent (the probes run again); stop at the first failure.  An upgrade that asks for probation itself is
    left on probation."""
    t0 = time.perf_counter()
    pause = release.pause if pause is None else pause
    outcomes = [Outcome(n.address, "not reached") for n in release.nodes]
    failed: Outcome | None = None
    for n, o in zip(release.nodes, outcomes):
        all_probes = tuple(as_probe(p, k) for k, p in enumerate((*n.probes, *probes), 1))
        try:
            with _client(n, release.timeout, 1) as c:
                if n.node_id is not None and c.status()["node_id"] != n.node_id:
                    raise NodeError("unauthorized", f"unknown node: {n.address} is not node {n.node_id}")
                r = c.upgrade(n.old, n.new, n.migration, **n.fields(True, all_probes))
                sleep(pause)  # on probation: a machine error meanwhile rolls it back
                s = c.status()
                if (s["version"], s["digest"]) != (r["version"], r["digest"]):
                    raise NodeError("machine_error", f"v{r['version']} was rolled back during the pause "
                                                     f"(now v{s['version']} {s['name']})")
                if not n.probation:
                    c.make_permanent()
            o.state = "upgraded"
        except (NodeError, OSError, ValueError) as e:
            o.state, o.detail, failed = "failed", _why(e), o
            break
    _finish(release, outcomes)
    done = sum(o.state == "upgraded" for o in outcomes)
    if failed is None:
        return Report(True, f"release rolling {release.source}: upgraded every node ({done}), one at a time",
                      outcomes, time.perf_counter() - t0)
    return Report(False, f"release rolling {release.source}: stopped at {failed.address}; {done} node(s) upgraded "
                         "before it stay upgraded", outcomes, time.perf_counter() - t0)


def main(argv: list[str]) -> int:
    """``cam release check|apply FILE [--rolling]``: upgrade the nodes of a release file (`cam.release`).

    Exit 0 if the release did what was asked, 1 if a node refused or failed (the report says where every node
    is), 2 for a malformed release file (nothing was sent).
    """
    p = argparse.ArgumentParser(prog="cam release", description=(
        "check: every node prepares its upgrade (all checks, nothing changes) and aborts. apply: prepare on every "
        "node, then commit on every node; if a node refuses or does not answer while preparing, none changes; if "
        "one fails between the phases, the committed ones are rolled back. --rolling: one node at a time, on "
        "probation with its probes, a pause, then make-permanent; stop at the first failure."))
    p.add_argument("action", choices=("check", "apply"))
    p.add_argument("file", help="the release file (TOML; see cam.release)")
    p.add_argument("--rolling", action="store_true", help="apply one node at a time (with probes and a pause)")
    p.add_argument("--probe", action="append", default=[], type=parse_probe, metavar="'INPUT [=> OUTPUT]'",
                   help="--rolling: a probe input for every node, besides the release file's; repeatable")
    p.add_argument("--pause", type=_pause, help="--rolling: seconds on probation per node, 0 to 3600 (default: the "
                                                 "file's, or 1)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    a = p.parse_args(argv)
    if (a.rolling or a.probe or a.pause is not None) and a.action != "apply":
        return _fail("--rolling, --probe and --pause go with apply")
    if (a.probe or a.pause is not None) and not a.rolling:
        return _fail("--probe and --pause go with --rolling (two-phase releases take probes from the file)")
    try:
        r = load(a.file)
    except ReleaseError as e:
        return _fail(f"{e}; nothing was sent to any node")
    report = (check(r) if a.action == "check" else
              rolling(r, tuple(a.probe), a.pause) if a.rolling else apply(r))
    if a.json:
        print(json.dumps({"ok": report.ok, "summary": report.summary, "seconds": report.seconds,
                          "nodes": [vars(o) for o in report.nodes]}, indent=2))
    else:
        print(report.text())
    return 0 if report.ok else 1


def _pause(text: str) -> float:
    """``--pause``'s argparse type: checked as the release file's ``pause`` is (`_number`), before any node is
    contacted (a bad pause once failed only after the first node was upgraded, leaving it on probation)."""
    try:
        x: Any = float(text)
    except ValueError:
        x = text  # `_number` says what it must be
    try:
        return _number({"pause": x}, "pause", 1.0, 3600, zero=True)
    except ReleaseError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _fail(message: str) -> int:
    print(f"cam release: {message}", file=sys.stderr)
    return 2
