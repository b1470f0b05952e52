"""The command line: ``cam node``, ``send``, ``upgrade``, ``rollback``, ``make-permanent``, ``status``, ``verify``
(``demo`` is `cam.demo`).

Each function takes the arguments after the subcommand and returns an exit
code (0 success, 1 refused by the node, 2 bad usage or unreachable node).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cam.cliargs import (
    fifo_path,
    input_value,
    natural,
    port,
    positive_int,
    readable,
    seconds,
    signing_key,
    tls_ca,
    type_text,
)
from cam.code import Code, to_text
from cam.compiler import compile_value
from cam.demo import demo
from cam.spec import load, parse_probe, parse_state
from cam.text import ParseError, from_json, parse_code, parse_value

__all__ = ["demo", "node", "send", "upgrade", "rollback", "make_permanent", "status", "verify", "load", "parse_state",
           "parse_probe"]


def _machine(spec: str) -> tuple[Code, Any, Any]:
    """(code, declared signature or None, initial host state or None) of ``MODULE:NAME`` or code text."""
    from cam.client import as_code
    from catlib.free import FREE, Term

    if spec.lstrip().startswith("["):
        return as_code(spec), None, None
    obj = load(spec)
    if callable(obj) and not isinstance(obj, (Term, Code)) and not hasattr(obj, "term"):
        obj = obj(FREE)  # a program written against the interfaces, e.g. catlib.examples.generic:counter
    if hasattr(obj, "term") and hasattr(obj, "signature"):  # a catlib.program.Program: declared types
        return as_code(obj.term), obj.signature, obj.initial
    return as_code(obj), None, None


def _code_arg(spec: str) -> Code:
    """Code for ``--old/--new/--migration``: ``MODULE:NAME``, code text, or ``@FILE`` holding code text."""
    from cam.client import as_code

    if spec.startswith("@"):
        with open(spec[1:]) as f:
            text = f.read().strip()
        if text.startswith("{"):  # the JSON bytecode document of cam.code.to_json
            c = from_json(text)
            if not isinstance(c, Code):
                raise ValueError(f"{spec[1:]} holds a value, not code")
            return c
        return as_code(text)
    return _machine(spec)[0]


def _connection_args(p: argparse.ArgumentParser) -> None:
    from cam.client import DEFAULT_HOST, DEFAULT_PORT

    p.add_argument("--host", default=DEFAULT_HOST, help=f"the node's address (default {DEFAULT_HOST})")
    p.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"the node's port (default {DEFAULT_PORT})")
    p.add_argument("--timeout", type=seconds, default=60.0, help=(
        "seconds to wait for an answer before sending the request again on a new connection (3 more times; "
        "the node applies it once) (default 60)"))
    p.add_argument("--tls-ca", metavar="CAFILE", type=tls_ca,
                   help="speak TLS to a node started with --cert, trusting CAFILE")


def _client(a: argparse.Namespace, key: str | None = None) -> Any:
    from cam.client import Client

    return Client(a.host, a.port, timeout=a.timeout, ssl_context=a.tls_ca, key=key)  # a.tls_ca: see `tls_ca`


def _unreachable(prog: str, a: argparse.Namespace, e: OSError) -> int:
    return _fail(prog, f"cannot reach a node at {a.host}:{a.port}: {e.strerror or e}")


def _fail(prog: str, message: str, code: int = 2) -> int:
    print(f"cam {prog}: {message}", file=sys.stderr)
    return code


# ---------------------------------------------------------------- cam node


def node(argv: list[str]) -> int:
    """``cam node --machine MODULE:NAME --state VALUE [--data DIR]``: run a node until interrupted."""
    import ssl

    from cam.client import DEFAULT_PORT
    from cam.loops import LOOPS, run
    from cam.node import Limits, Node, Refusal
    from cam.store import DURABILITY, Store, StoreError

    p = argparse.ArgumentParser(prog="cam node", description=(
        "Run a state machine on a node: TCP (newline-delimited JSON) on loopback, optionally the reference's "
        "text commands on a named pipe. The machine's signature comes from the verifier: a Program's declared "
        "one, else the principal one with the state type fixed by --state and every variable left set to (). "
        "With --data DIR the node journals every change there and a restart with --data DIR alone resumes it."))
    p.add_argument("--machine", help="MODULE:NAME of a term, a catlib.program.Program or code (or code text '[...]')")
    p.add_argument("--code", help="a file holding the machine's bytecode (text '[...]' or JSON form)")
    p.add_argument("--state", help="initial state: 'Int 0', or a literal: 0, (1, 2) (default: a Program's own)")
    p.add_argument("--data", help="data directory: journal and snapshots (SQLite); created if new, resumed if not")
    p.add_argument("--durability", choices=DURABILITY, default="sync", help=(
        "sync: every change is on disk before its answer (default); group: written before its answer, on disk "
        "within --sync-interval (a power cut may lose that much; a crash of the process loses nothing)"))
    p.add_argument("--sync-interval", type=seconds, default=0.05, help="seconds between syncs with group (0.05)")
    p.add_argument("--snapshot-every", type=positive_int, default=10_000, help="events between snapshots (10000)")
    p.add_argument("--trust", action="append", default=[], metavar="KEY.pub", type=readable,
                   help="accept only upgrades signed by this key (cam keygen); repeatable")
    p.add_argument("--cert", type=readable, help="TLS certificate chain (PEM); with --keyfile the node speaks TLS")
    p.add_argument("--keyfile", type=readable, help="TLS private key (PEM) for --cert")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only; "
                                                        "another address needs --trust)")
    p.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"TCP port, 0 = any free one (default "
                                                                   f"{DEFAULT_PORT})")
    p.add_argument("--fifo", type=fifo_path, help="also read the reference's text commands (Do v / Load old new mig) from this pipe")
    p.add_argument("--input-type", type=type_text, help="declare the input type, e.g. 'Either () ()'")
    p.add_argument("--loop", choices=LOOPS, default="auto", help="event loop (default auto: uvloop if installed)")
    d = Limits()
    p.add_argument("--fuel", type=positive_int, default=d.fuel, help=f"step budget per input (default {d.fuel})")
    p.add_argument("--migration-fuel", type=positive_int, default=d.migration_fuel,
                   help=f"machine steps a migration may take (default {d.migration_fuel})")
    p.add_argument("--max-line", type=positive_int, default=d.max_line, help=f"bytes per request line (default {d.max_line})")
    p.add_argument("--max-depth", type=positive_int, default=d.max_depth,
                   help=f"nesting of requests and values (default {d.max_depth})")
    p.add_argument("--max-connections", type=positive_int, default=d.max_connections,
                   help=f"open TCP connections; more are answered too_many_connections (default {d.max_connections})")
    p.add_argument("--read-timeout", type=seconds, default=d.read_timeout,
                   help=f"seconds to finish a started line (default {d.read_timeout:g})")
    p.add_argument("--idle-timeout", type=seconds, default=d.idle_timeout,
                   help=f"seconds a connection may stay silent (default {d.idle_timeout:g})")
    a = p.parse_args(argv)
    store = None
    try:
        from cam import auth

        trust = [auth.load_public_key(k) for k in a.trust]
        tls = None
        if a.cert or a.keyfile:
            if not (a.cert and a.keyfile):
                return _fail("node", "TLS needs both --cert and --keyfile")
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.minimum_version = ssl.TLSVersion.TLSv1_2
            tls.load_cert_chain(a.cert, a.keyfile)
        code, declared, initial, name = None, None, None, a.machine or a.code or ""
        if a.machine is not None and a.code is not None:
            return _fail("node", "give --machine or --code, not both")
        if a.machine is not None:
            code, declared, initial = _machine(a.machine)
        elif a.code is not None:
            code = _code_arg("@" + a.code)
        # a Program's own state may hold closures (`Curried`): each becomes the machine closure CURRY makes of its body
        state = parse_state(a.state) if a.state is not None else (compile_value(initial) if initial is not None else None)
        if a.input_type is not None:
            from catlib.typecheck import Signature

            declared = Signature(declared.state if declared else None, a.input_type,  # type: ignore[arg-type]
                                 declared.output if declared else None)  # type: ignore[arg-type]
        limits = Limits(max_line=a.max_line, max_depth=a.max_depth, fuel=a.fuel, migration_fuel=a.migration_fuel,
                        max_connections=a.max_connections, read_timeout=a.read_timeout, idle_timeout=a.idle_timeout)
        from cam.server import SWITCH_INTERVAL, printer, serve

        emit = printer()
        if a.data is not None:
            store = Store(a.data, a.durability, a.snapshot_every, a.sync_interval)
            the_node = Node.open(store, code, state, name=name, declared=declared, limits=limits, emit=emit)
        elif code is None:
            return _fail("node", "--machine or --code is needed (or --data DIR holding a node)")
        elif state is None:
            return _fail("node", "--state is needed (the machine does not declare an initial state)")
        else:
            the_node = Node(code, state, name=name, declared=declared, limits=limits, emit=emit)
    except Refusal as e:
        return _close(store, _fail("node", f"{e.kind}: {e}"))
    except StoreError as e:
        return _close(store, _fail("node", str(e)))
    except ssl.SSLError as e:  # only load_cert_chain raises it; both files are readable (`readable`): their contents
        return _close(store, _fail("node", f"--cert {a.cert} and --keyfile {a.keyfile} are not a PEM certificate "
                                           f"chain and its private key: {e.reason or e}"))
    except (ValueError, TypeError, ImportError, AttributeError, OSError) as e:
        return _close(store, _fail("node", f"{type(e).__name__}: {e}"))
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))  # this process is the node's own
    try:  # SIGTERM ends the node as Ctrl-C does: transcript flushed, data closed
        run(serve(the_node, a.host, a.port, a.fifo, trust=trust, ssl_context=tls), a.loop, terminate=True)
    except KeyboardInterrupt:
        return _close(store, 0)
    except (OSError, Refusal, ValueError) as e:  # ValueError: --loop uvloop without uvloop
        return _close(store, _fail("node", str(e)))
    finally:
        emit.flush(1.0)
    return _close(store, 0)


def _close(store: Any, code: int) -> int:
    if store is not None:
        store.close()
    return code


# ---------------------------------------------------------------- one-off clients


def send(argv: list[str]) -> int:
    """``cam send VALUE``: run one input on a node and print what it answered."""
    from cam.client import NodeError

    p = argparse.ArgumentParser(prog="cam send", description="Send one input to a node.")
    p.add_argument("value", type=input_value, help=(
        "the input: 'L Unit', 'R Unit', a literal (0, (1, 2)), or a JSON value document "
        "('{\"format\":\"cam-bytecode\",\"version\":1,\"value\":...}', as a request's \"input\" takes)"))
    p.add_argument("--interface", type=positive_int, help="the interface it speaks (cam status lists them; default the oldest)")
    _connection_args(p)
    a = p.parse_args(argv)
    try:
        with _client(a) as c:
            r = c.do(a.value, a.interface)
    except NodeError as e:
        return _fail("send", f"refused ({e.kind}): {e.message}", 1)
    except OSError as e:
        return _unreachable("send", a, e)
    print(f"Output:    {to_text(r.output)}\nNew state: {to_text(r.state)}")
    return 0


def upgrade(argv: list[str]) -> int:
    """``cam upgrade --old M:N --new M:N --migration M:N [--key KEY]``: upgrade a node.

    Or ``--derive-migration [--default PATH=VALUE ...]`` instead of ``--migration``, or ``--to M:N`` for a
    version several steps ahead (`cam.upgrade_plan`; docs/migrations.md).
    """
    from cam import upgrade_plan
    from cam.client import NodeError
    from cam.node import Refusal

    p = argparse.ArgumentParser(prog="cam upgrade", description=(
        "Upgrade a running node: --old, --new and --migration (or --derive-migration), or --to alone for a version "
        "several steps ahead. Each code is MODULE:NAME (a term or Program, compiled here), code text "
        "'[...]', or @FILE with code text."))
    p.add_argument("--old", help="the code the node is expected to run")
    p.add_argument("--new", help="the new code")
    p.add_argument("--migration", help="the state migration: () / old state -> new state")
    p.add_argument("--down", help="the down-migration: () / new state -> old state (makes `cam rollback` keep the "
                                  "state)")
    p.add_argument("--name", help="the new version's name (default: --new's MODULE:NAME)")
    p.add_argument("--input-adapter", help="() / old input -> new input: the new machine may change its input type")
    p.add_argument("--output-adapter", help="() / new output -> old output: it may change its output type")
    p.add_argument("--probation", action="store_true", help=(
        "install on probation: a machine error on an input rolls it back, and so does a restart, until "
        "cam make-permanent"))
    p.add_argument("--probe", action="append", default=[], type=parse_probe, metavar="'INPUT [=> OUTPUT]'", help=(
        "an input the new version must pass (give the output it must give, or it only must not fail) before it "
        "is installed, and with --probation again at make-permanent (a failure then rolls it back); repeatable"))
    p.add_argument("--key", type=signing_key, help="sign the upgrade with this private key (cam keygen), for a node started with --trust")
    g = p.add_argument_group("chains and derived migrations (docs/migrations.md)")
    g.add_argument("--to", metavar="MODULE:NAME", help=(
        "upgrade to this version (a Program) several steps ahead, without --old/--new/--migration: the chain of "
        "catlib.program.Upgrade values in MODULE (or --via) from the running version is composed, checked, sent"))
    g.add_argument("--via", metavar="MODULE[:NAME]", help="with --to: the upgrades, a module or a list in one")
    g.add_argument("--derive-migration", action="store_true", help=(
        "instead of --migration: derive it from the state types (catlib.derive), print it and its type, send it"))
    g.add_argument("--default", action="append", default=[], metavar="PATH=VALUE", help=(
        "a gained component's value (repeatable); PATH: 0/1 into pairs, L/R into sums, dotted (0.1, R.0)"))
    g.add_argument("--candidate", type=positive_int, metavar="N", help="take candidate N of an ambiguous derivation's list")
    g.add_argument("--dry-run", action="store_true", help=(
        "work the upgrade out, check and print it; send nothing (given by its parts: the node's own checks run "
        "here, on its status's code, state and types, with the default limits)"))
    _connection_args(p)
    a = p.parse_args(argv)
    try:
        with _client(a, a.key) as c:
            if a.to is not None:
                if a.old or a.new or a.migration or a.derive_migration or a.down or a.input_adapter or a.output_adapter:
                    return _fail("upgrade", "--to composes the chain's own parts: give no --old, --new, --migration, "
                                 "--down or adapters")
                sent: Any = upgrade_plan.chained(c, a.to, a.via, a.name, a.probation, load, a.probe)
            else:
                sent = _upgrade_parts(a, c)
            if sent is None:
                return 2
            if a.dry_run:
                print("Dry run: nothing sent.")
                return 0
            r = sent()
    except NodeError as e:
        return _fail("upgrade", f"refused ({e.kind}): {e.message}", 1)
    except Refusal as e:  # --dry-run: the node's checks, run here (`_checked_here`)
        return _fail("upgrade", f"dry run: the node would refuse it ({e.kind}): {e}; nothing sent", 1)
    except ConnectionError as e:
        return _unreachable("upgrade", a, e)
    except (ValueError, TypeError, ImportError, AttributeError, OSError, RuntimeError) as e:
        return _fail("upgrade", f"{type(e).__name__}: {e}")
    print(f"Upgrade successful!\nVersion:   v{r['version']} {r['name'] or '(code)'}"
          f"{' (on probation: cam make-permanent ends it)' if r['probation'] else ''}\n"
          f"Digest:    {r['digest']}\nSignature: {r['signature']}\nState:     {r['state']}")
    return 0


def _upgrade_parts(a: argparse.Namespace, c: Any) -> Any:
    """The request of an upgrade given by its parts (the migration maybe derived), or None after a usage error."""
    from cam import upgrade_plan

    usage = "give --old, --new and --migration (or --derive-migration), or --to"
    if a.migration is not None and a.derive_migration:
        return _fail("upgrade", f"--migration and --derive-migration are exclusive: {usage}") and None
    if a.old is None or a.new is None or (a.migration is None) == (not a.derive_migration):
        return _fail("upgrade", usage) and None
    if (a.default or a.candidate) and not a.derive_migration:
        return _fail("upgrade", "--default and --candidate go with --derive-migration") and None
    old, new = _code_arg(a.old), _code_arg(a.new)
    if a.derive_migration:
        old_d, new_d = (None if x.lstrip()[:1] in ("[", "@") else _machine(x)[1] for x in (a.old, a.new))
        migration = upgrade_plan.derived(c, new, old_d, new_d, a.default, a.candidate, parse_state)
    else:
        migration = _code_arg(a.migration)
    down, ia, oa = (None if x is None else _code_arg(x) for x in (a.down, a.input_adapter, a.output_adapter))
    name = a.name if a.name is not None else "" if a.new.lstrip()[:1] in ("[", "@") else a.new
    if a.dry_run:
        print(_checked_here(c, old, new, migration, down, (ia, oa), a.probe), flush=True)
    return lambda: c.upgrade(old, new, migration, down=down, name=name, probation=a.probation, input_adapter=ia,
                             output_adapter=oa, probes=a.probe)


def _checked_here(c: Any, old: Code, new: Code, migration: Code, down: Code | None,
                  adapters: tuple[Code | None, Code | None], probes: list[Any]) -> str:
    """``cam upgrade --dry-run``: every check the node makes of this upgrade (`cam.node.Node.prepare`: the code's
    types, the migration and the down-migration on the current state, the trial inputs, the probes), run here
    on a stand-in made from the node's status (its code, state, types, version, probation); `Refusal` if one
    fails, else a line saying what would be installed.  Only ``status`` is sent.  The stand-in has the default
    `cam.node.Limits` (the node's own are not in its status)."""
    from cam.client import as_probe
    from cam.node import Node, clip
    from catlib.typecheck import Signature
    from catlib.types import parse

    s = c.status(True)
    here = Node(parse_code(s["code"]), parse_value(s["state"]), s["name"],
                Signature(*(parse(s[f"{k}_type"]) for k in ("state", "input", "output"))))
    here.generation, here.probation = s["version"], s["probation"]  # check_code refuses a version on probation
    p = here.prepare(old, new, migration, down, adapters, tuple(as_probe(x, k) for k, x in enumerate(probes, 1)))
    return (f"Checked:   as the node checks it (here, on its status): v{s['version'] + 1} would run at "
            f"{p.signature}, state {clip(to_text(p.state))}")


def _admin(prog: str, argv: list[str], description: str, discard: bool = False) -> int:
    """``cam rollback`` and ``cam make-permanent``: one request, signed with --key."""
    from cam.client import NodeError

    p = argparse.ArgumentParser(prog=f"cam {prog}", description=description)
    if discard:
        p.add_argument("--discard", action="store_true", help=(
            "without a down-migration, restore the state saved at the upgrade (the inputs served since are "
            "forgotten: the answer says how many)"))
    p.add_argument("--key", type=signing_key, help="sign the request with this private key, for a node started with --trust")
    _connection_args(p)
    a = p.parse_args(argv)
    try:
        with _client(a, a.key) as c:
            r = c.rollback(a.discard) if discard else c.make_permanent()
    except NodeError as e:
        return _fail(prog, f"refused ({e.kind}): {e.message}", 1)
    except OSError as e:
        return _unreachable(prog, a, e)
    except (ValueError, RuntimeError) as e:
        return _fail(prog, f"{type(e).__name__}: {e}")
    if discard:
        lost = f", {r['forgotten']} input(s) forgotten" if r["forgotten"] else ""
        print(f"Rolled back: v{r['version']} {r['name'] or '(code)'} ({r['note']}{lost})\nState:     {r['state']}")
    else:
        print(f"Permanent: v{r['version']} {r['name'] or '(code)'}")
    return 0


def rollback(argv: list[str]) -> int:
    """``cam rollback [--discard]``: reinstall the version under the running one."""
    return _admin("rollback", argv, "Reinstall the previous version, the state carried back through the upgrade's "
                  "down-migration (or, with --discard, the state saved at the upgrade).", discard=True)


def make_permanent(argv: list[str]) -> int:
    """``cam make-permanent``: end the running version's probation."""
    return _admin("make-permanent", argv, "End the running version's probation (cam upgrade --probation).")


def status(argv: list[str]) -> int:
    """``cam status``: print a node's digest, signature, state and upgrade history."""
    from cam.client import NodeError

    p = argparse.ArgumentParser(prog="cam status", description="Show a node's status.")
    _connection_args(p)
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    p.add_argument("--code", action="store_true", help="print the running code's text only (to write an upgrade)")
    a = p.parse_args(argv)
    try:
        with _client(a) as c:
            s = c.status(a.code)
    except NodeError as e:
        return _fail("status", f"refused ({e.kind}): {e.message}", 1)
    except OSError as e:
        return _unreachable("status", a, e)
    if a.json or a.code:
        print(json.dumps(s, indent=2) if a.json else s["code"])
        return 0
    back = s.get("rollback")
    way_back = "" if back is None else f"; rollback goes to v{back['to']} ({back['how']})"
    print(f"Machine:   {s['name'] or '(code)'}\nVersion:   v{s['version']}"
          f"{' (on probation)' if s['probation'] else ''}{way_back}\nDigest:    {s['digest']}\nSignature: {s['signature']}\nState:     {s['state']}\n"
          f"Inputs:    {s['inputs']} ({s['machine_steps']} machine steps)\nUpgrades:  {s['upgrades']}")
    if s.get("probes"):
        print(f"Probes:    {s['probes']} (run again at make-permanent)")
    held = s.get("held")
    if held:
        print(f"Held:      release {held['token']}: v{held['version']} {held['name'] or '(code)'} prepared, "
              f"{held['expires_in']:.0f} s left (other upgrades wait for its commit or abort)")
    if isinstance(ins := s.get("instructions"), dict):  # the reference's 21, or those and SUB, MUL, LT, EQ, DIVMOD
        print(f"Instructions: {ins['tcp']} over TCP" + (f", {ins['fifo']} on the named pipe" if ins["fifo"] else ""))
    if len(s.get("interfaces", [])) > 1:
        print("Interfaces: " + ", ".join(f"{i['interface']}: {i['input']} -> {i['output']}" for i in s["interfaces"])
              + " (untagged requests speak the first)")
    for v in s["history"]:
        print(f"  v{v.get('number', '?')} {v['digest']}  from input {v['since_input']}  {v.get('name') or ''}"
              f"{'  (' + v['note'] + ')' if v.get('note') else ''}")
    return 0


def verify(argv: list[str]) -> int:
    """``cam verify FILE`` prints the signature of code (``-`` for stdin); ``cam verify --fuzz N [--seed S]``
    fuzzes the verifier (`cam.fuzz`): exit 1 if verified code went wrong (stuck, ill-typed or not halting)
    or the verifier crashed."""
    import time

    from cam.fuzz import Unsound, campaign
    from cam.verifier import BytecodeError
    from cam.verifier import verify as verify_code

    p = argparse.ArgumentParser(prog="cam verify", description=verify.__doc__)
    p.add_argument("file", nargs="?", help="code to verify, in the reference's text form ('-' for stdin)")
    p.add_argument("--fuzz", type=positive_int, metavar="N", help="run a fuzzing campaign of N cases (not with FILE)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=natural, default=2, help="runs on random typed inputs per accepted case")
    args = p.parse_args(argv)
    if args.fuzz is not None and args.file is not None:
        p.error("FILE and --fuzz are exclusive: give code to verify, or --fuzz N to fuzz the verifier")
    if args.fuzz is not None:
        t0 = time.perf_counter()
        try:
            counts = campaign(args.fuzz, args.seed, args.runs, progress=True)
        except Unsound as e:
            print(f"UNSOUND: {e}")
            return 1
        for k in sorted(counts):
            print(f"{k:>28}: {counts[k]}")
        print(f"({time.perf_counter() - t0:.0f} s, seed {args.seed})")
        return 0 if counts["crashed"] == 0 else 1
    if args.file is None:
        p.print_usage()
        return 2
    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file).read()
    except (OSError, UnicodeDecodeError) as e:
        print(f"cannot read {args.file}: {e}", file=sys.stderr)
        return 2
    try:
        print(verify_code(parse_code(text.strip())))
    except (ParseError, BytecodeError) as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0
