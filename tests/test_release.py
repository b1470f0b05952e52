"""Releases across nodes (issue 15, part 5): prepare / commit / abort on a node, and `cam.release` on three nodes.

Every node here is served from a thread of this process (fast); "killing" one
stops its server between the phases, and a "slow" one has a verifier that
sleeps while an upgrade is checked.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cam import release, verifier
from cam.node import Node
from cam.server import Running, start_in_thread
from cam.text import digest, parse_value
from tests.node_helpers import MIG, V1, V2, cam

COUNTER = "catlib.examples.counter:COUNTER"
UPGRADE = """
hold = {hold}
timeout = {timeout}
pause = 0

[upgrades.v2]
old = "catlib.examples.counter:COUNTER"
new = "catlib.examples.counter:COUNTER2"
migration = "catlib.examples.counter:MIGRATION"
down = "catlib.examples.counter:DOWNGRADE"
"""


def node_entries(addresses: list[str], upgrade: str = "v2") -> str:
    return "".join(f'\n[nodes."{a}"]\nupgrade = "{upgrade}"\n' for a in addresses)


class Slow:
    """A verifier that sleeps `delay` seconds before checking, once `on` (a slow node's upgrade checks), unless
    `done` (the test is over) wakes it."""

    def __init__(self, delay: float) -> None:
        self.delay, self.on = delay, False
        self.woken = threading.Event()

    def __call__(self, *args: Any, **kw: Any) -> Any:
        if self.on:
            self.woken.wait(self.delay)
        return verifier.verify(*args, **kw)

    def done(self) -> None:
        self.on = False
        self.woken.set()


@pytest.fixture
def three() -> Iterator[list[tuple[Node, Running]]]:
    out = []
    for _ in range(3):
        node = Node(V1, parse_value("Int 0"), name="counter", verify=Slow(1.5))
        out.append((node, start_in_thread(node)))
    for node, _ in out:
        node.do(parse_value("L Unit"))
    yield out
    # the slow node's late checks (the release's prepare, then what queued behind it) wake now: its server's
    # `stop` waits for the answers being made, ~4.5 s of sleeping verifiers otherwise
    for node, running in out:
        node.verify.done()  # type: ignore[union-attr]
        running.stop()


def write(tmp_path: Path, nodes: list[tuple[Node, Running]], hold: float = 10, timeout: float = 5,
          extra: str = "") -> str:
    path = tmp_path / "release.toml"
    path.write_text(UPGRADE.format(hold=hold, timeout=timeout) + extra
                    + node_entries([f"{r.host}:{r.port}" for _, r in nodes]))
    return str(path)


def versions(nodes: list[tuple[Node, Running]]) -> list[tuple[int, str, str, Any]]:
    return [(n.generation, n.name, n.digest, n.held) for n, _ in nodes]


def test_a_release_upgrades_every_node(three, tmp_path):
    r = release.apply(release.load(write(tmp_path, three)))
    assert r.ok, r.text()
    assert [o.state for o in r.nodes] == ["committed"] * 3
    assert [(o.version["version"], o.version["name"]) for o in r.nodes] == [(2, "catlib.examples.counter:COUNTER2")] * 3
    assert all(n.digest == digest(V2) and n.state == parse_value("Pair (Int 1) (Int 0)") and n.held is None
               for n, _ in three)


def test_check_prepares_every_node_and_changes_nothing(three, tmp_path):
    before = versions(three)
    for _ in range(2):  # the first check's holds were aborted: a second check is not blocked
        r = release.check(release.load(write(tmp_path, three)))
        assert r.ok, r.text()
        assert [o.state for o in r.nodes] == ["ok"] * 3
        assert versions(three) == before


def test_a_node_refusing_at_prepare_changes_none(three, tmp_path):
    three[1][0].upgrade(V1, V2, MIG, name="elsewhere")  # node 2 no longer runs the release's old code
    before = versions(three)
    r = release.apply(release.load(write(tmp_path, three)))
    assert not r.ok and "no node changed" in r.summary
    assert [o.state for o in r.nodes] == ["aborted", "refused", "aborted"]
    assert "wrong_version" in r.nodes[1].detail
    assert versions(three) == before


def test_a_node_killed_between_the_phases_rolls_the_committed_ones_back(three, tmp_path):
    r = release.apply(release.load(write(tmp_path, three, timeout=2)), after_prepare=lambda _: three[1][1].stop())
    assert not r.ok and "commit failed on" in r.summary, r.text()
    assert [o.state for o in r.nodes] == ["rolled back", "commit failed", "aborted"]
    first, killed, third = r.nodes
    assert first.version is not None and (first.version["version"], first.version["name"]) == (3, "counter")
    assert killed.version is None and "unreachable" in killed.line()
    assert third.version is not None and third.version["version"] == 1
    # what the report says is what the nodes run: the first came back through the down-migration
    assert (three[0][0].digest, three[0][0].state, three[0][0].generation) == (digest(V1), parse_value("Int 0"), 3)
    assert (three[2][0].digest, three[2][0].generation, three[2][0].held) == (digest(V1), 1, None)
    assert "rollback to v1" in r.text()


def test_a_node_answering_slowly_is_a_refusal_and_none_changes(three, tmp_path):
    slow = three[2][0]
    slow.verify.on = True  # type: ignore[union-attr]
    before = versions(three)
    t0 = time.perf_counter()
    r = release.apply(release.load(write(tmp_path, three, hold=2, timeout=0.5)))
    assert not r.ok and [o.state for o in r.nodes] == ["aborted", "aborted", "no answer"], r.text()
    assert "no answer within the timeout" in r.nodes[2].detail
    assert time.perf_counter() - t0 < 6
    deadline = time.monotonic() + 5  # its late prepare is aborted, or expires after `hold`
    while slow.held is not None and time.monotonic() < deadline:
        time.sleep(0.1)
        slow.held_now()
    assert versions(three) == before


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_release_naming_an_unknown_node_changes_nothing(three, tmp_path):
    path = write(tmp_path, three) + ""
    Path(path).write_text(Path(path).read_text() + node_entries([f"127.0.0.1:{free_port()}"]))
    before = versions(three)
    r = release.apply(release.load(path))
    assert not r.ok and [o.state for o in r.nodes] == ["aborted"] * 3 + ["unreachable"], r.text()
    assert versions(three) == before
    # a node whose id is not the one the release names is refused as unknown
    text = Path(path).read_text().rsplit("\n[nodes.", 1)[0] + '\nid = "0123456789abcdef"\n'
    Path(path).write_text(text)
    r = release.check(release.load(path))
    assert not r.ok and "unknown node" in r.nodes[-1].detail
    assert versions(three) == before


GOOD = UPGRADE.format(hold=5, timeout=5) + node_entries(["127.0.0.1:1"])
V3 = '[upgrades.v3]\nold = "[]"\nnew = "[]"\nmigration = "[]"\n'


@pytest.mark.parametrize("text, says", [
    ("hold = [", "not TOML"),
    ("colour = 1\n" + GOOD, "unknown key"),
    (UPGRADE.format(hold=5, timeout=5), "at least one"),
    (GOOD.replace('upgrade = "v2"', 'upgrade = "v3"'), "'v3' is not defined"),
    (GOOD.replace("127.0.0.1:1", "localhost"), "HOST:PORT"),
    (GOOD.replace("catlib.examples.counter:COUNTER2", "no.such.module:X"), "cannot be loaded"),
    (GOOD.replace('"catlib.examples.counter:COUNTER2"', '"missing.cam"'), "cannot be loaded"),
    (GOOD.replace('new = "catlib.examples.counter:COUNTER2"', ""), "needs old, new, migration"),
    (GOOD + V3 + "flavour = 1\n", "unknown: flavour"),
    (GOOD.replace("hold = 5", "hold = 9000"), "hold is a number"),
    (GOOD + V3 + 'probes = ["R Unit"]\n', "probes is a list"),
    (GOOD + V3 + 'probes = [{input = "R Unit (("}]\n', "probes"),
])
def test_a_malformed_release_file_is_refused_before_any_node_is_contacted(tmp_path, text, says):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(release.ReleaseError, match=says):
        release.load(str(path))
    path.write_text(GOOD)  # the control: the file it was made from loads
    assert len(release.load(str(path)).nodes) == 1


def test_cam_release_check_and_apply(three, tmp_path):
    path = write(tmp_path, three[:2])
    r = cam("release", "check", path)
    assert r.returncode == 0 and "every node (2) would take its upgrade" in r.stdout, r.stdout + r.stderr
    assert [n.generation for n, _ in three] == [1, 1, 1]
    r = cam("release", "apply", path)
    assert r.returncode == 0 and [line.split()[1] for line in r.stdout.splitlines()[1:]] == ["committed"] * 2, r.stdout
    r = cam("release", "apply", path)  # the nodes run v2 now: the same release is refused, nothing changes
    assert r.returncode == 1 and "wrong_version" in r.stdout
    Path(path).write_text("hold = [")
    r = cam("release", "apply", path)
    assert r.returncode == 2 and "nothing was sent" in r.stderr


def test_rolling_upgrades_one_node_at_a_time_with_probes(three, tmp_path):
    probes = ((parse_value("R Unit"), parse_value("R (Int 0)")), parse_value("L Unit"))
    r = release.rolling(release.load(write(tmp_path, three)), probes=probes, pause=0)
    assert r.ok and [o.state for o in r.nodes] == ["upgraded"] * 3, r.text()
    assert all(n.digest == digest(V2) and not n.probation for n, _ in three)  # made permanent after the pause


def test_rolling_stops_at_the_first_failure(three, tmp_path):
    path = tmp_path / "rolling.toml"
    addresses = [f"{r.host}:{r.port}" for _, r in three]
    bad = UPGRADE.format(hold=5, timeout=5).split("[upgrades.v2]")[1].replace("\n", "\n", 1)
    path.write_text(UPGRADE.format(hold=5, timeout=5) + "\n[upgrades.v2bad]" + bad
                    + 'probes = [{input = "R Unit", expect = "R (Int 5)"}]\n'
                    + node_entries(addresses[:1]) + node_entries(addresses[1:2], "v2bad") + node_entries(addresses[2:]))
    r = release.rolling(release.load(str(path)), pause=0)
    assert not r.ok and [o.state for o in r.nodes] == ["upgraded", "failed", "not reached"], r.text()
    assert "probe_failed" in r.nodes[1].detail and "gave R (Int 0), not R (Int 5)" in r.nodes[1].detail
    assert [n.digest for n, _ in three] == [digest(V2), digest(V1), digest(V1)]
    assert [o.version["version"] for o in r.nodes if o.version] == [2, 1, 1]
