"""Which event loop a node runs on: asyncio's own, or uvloop's (libuv) when it is installed.

``cam node --loop auto|asyncio|uvloop`` and `cam.server.start_in_thread` take one of `LOOPS`.  ``auto`` (the
default) is the loop named by the environment variable ``CAM_NODE_LOOP`` if set, else uvloop when it can be
imported, else asyncio's; ``uvloop`` without uvloop installed is an error, never a silent fallback.  The node's
behaviour is the same on both (its tests run on each); uvloop's transports take less of the interpreter's time
per request.

>>> chosen("asyncio")
'asyncio'
>>> chosen("auto") in ("asyncio", "uvloop")
True
>>> run(asyncio.sleep(0, 42), "asyncio")
42
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LOOPS", "chosen", "factory", "run"]

LOOPS = ("auto", "asyncio", "uvloop")
"""The loop names ``--loop`` takes."""

T = TypeVar("T")


def chosen(name: str = "auto") -> str:
    """The loop `name` means here: ``asyncio`` or ``uvloop`` (``auto``: see the module's docstring).

    `ValueError` for a name not in `LOOPS`, or ``uvloop`` when it is not installed.
    """
    if name == "auto":
        name = os.environ.get("CAM_NODE_LOOP") or ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
    if name not in LOOPS[1:]:
        raise ValueError(f"unknown event loop {name!r}: one of {', '.join(LOOPS)}")
    if name == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ValueError("uvloop is not installed (pip install uvloop), use --loop asyncio")
    return name


def factory(name: str = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """A function making a new event loop of the kind `name` means (`chosen`)."""
    if chosen(name) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], name: str = "auto", terminate: bool = False) -> T:
    """`asyncio.run` on a new loop of the kind `name` means.

    With `terminate` (in the main thread only), SIGTERM ends `main` as Ctrl-C does: it is cancelled, and
    `KeyboardInterrupt` raised here once it has finished.  (A Python signal handler that raises would do on
    asyncio's loop, but uvloop takes an exception raised inside a protocol's callback as the end of that
    connection, not of the loop.)
    """
    try:
        make = factory(name)
    except ValueError:
        main.close()  # never awaited: closed, so no warning about it
        raise
    with asyncio.Runner(loop_factory=make) as runner:
        return runner.run(_terminable(main) if terminate else main)


async def _terminable(main: Coroutine[Any, Any, T]) -> T:
    task, termed = asyncio.current_task(), []
    assert task is not None

    def term() -> None:
        termed.append(True)
        task.cancel()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, term)
    try:
        return await main
    except asyncio.CancelledError:
        if termed:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
