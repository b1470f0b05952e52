"""Many clients at once, with an upgrade in the middle: nothing lost, nothing served twice, the count exact."""

from __future__ import annotations

import threading

from cam.client import Client, as_code
from cam.code import L, Pair, UnitV
from cam.node import Node
from cam.server import start_in_thread
from cam.text import digest, parse_value
from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state

CLIENTS, INCREMENTS = 8, 1000


def test_eight_clients_a_thousand_increments_each_with_an_upgrade_in_the_middle():
    v1, v2, mig = as_code(counter_sm), as_code(counter_sm2), as_code(upgrade_state)
    node = Node(v1, parse_value("Int 0"))
    replies: list[list[object]] = [[] for _ in range(CLIENTS)]
    errors: list[BaseException] = []
    half = threading.Event()
    go = threading.Barrier(CLIENTS + 1)

    with start_in_thread(node) as running:

        def worker(k: int) -> None:
            try:
                with Client(running.host, running.port) as c:
                    go.wait()
                    for i in range(INCREMENTS):
                        replies[k].append(c.do(L(UnitV)))  # Client checks each response's id
                        if k == 0 and i == INCREMENTS // 2:
                            half.set()
            except BaseException as e:  # reported below
                errors.append(e)
                half.set()

        def upgrader() -> None:
            try:
                with Client(running.host, running.port) as c:
                    half.wait()
                    c.upgrade(v1, v2, mig)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(CLIENTS)]
        threads.append(threading.Thread(target=upgrader))
        for t in threads:
            t.start()
        go.wait()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)

        with Client(running.host, running.port) as c:
            status = c.status()
            final = c.do("R Unit")

    total = CLIENTS * INCREMENTS
    # every request got exactly one response, and each was an increment's answer
    assert [len(r) for r in replies] == [INCREMENTS] * CLIENTS
    assert all(r.output == L(UnitV) for rs in replies for r in rs)
    # the upgrade happened between two inputs: k inputs by version 1, the rest by version 2
    assert [v["digest"] for v in status["history"]] == [digest(v1), digest(v2)]
    k = status["history"][1]["since_input"]
    assert 0 < k < total
    assert status["inputs"] == total
    assert final.state == Pair(parse_value(f"Int {k}"), parse_value(f"Int {total - k}"))
    assert final.output == parse_value(f"R (Int {total - k})")
    # each client saw its own states strictly increase, first as Int, then as pairs after the switch
    for rs in replies:
        counts = [r.state.n if not isinstance(r.state, Pair) else k + r.state.right.n for r in rs]
        assert counts == sorted(set(counts))
        kinds = [isinstance(r.state, Pair) for r in rs]
        assert kinds == sorted(kinds)
    # the states seen, over all clients, are exactly 1..total: no input served twice or lost
    seen = sorted(r.state.n if not isinstance(r.state, Pair) else k + r.state.right.n for rs in replies for r in rs)
    assert seen == list(range(1, total + 1))


def test_the_decoded_code_cache_is_safe_for_two_threads(monkeypatch):
    """A node's worker thread (an upgrade's checks) decodes code while its event loop does: the cache's
    evictions and its size count stay whole when the interpreter switches threads at any instruction."""
    import sys
    import threading

    import cam.decoded as decoded
    from cam.text import parse_code

    decoded.clear_cache()
    monkeypatch.setattr(decoded, "CACHE_BUDGET", 200)
    codes = [parse_code("[" + ",".join(["ID"] * (i % 7 + 1)) + f",QUOTE (Int {i})]") for i in range(2000)]
    errors: list[str] = []

    def work(k: int) -> None:
        try:
            for _ in range(6):
                for c in codes[k::2]:
                    decoded.decode(c)
        except Exception as e:  # RuntimeError: dictionary keys changed during iteration, KeyError...
            errors.append(repr(e))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
        kept = decoded.cached()
        decoded.clear_cache()
    assert errors == []
    assert decoded.CACHE_BUDGET - 7 <= sum(b.size for _, b in kept) <= decoded.CACHE_BUDGET
