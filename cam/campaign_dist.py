"""Where a campaign's chunks run: in this process, on a local process pool, or on a Dask cluster.

An executor maps a picklable, module-level function over work items (in
any order) and makes single calls where that work runs.  It knows nothing
about the work: `cam.check` hands it its own functions.

- `InProcess`: here, one item after another (``--jobs 1``);
- `ProcessPool`: a local pool of `jobs` processes, the embedded default
  for ``--jobs N``; each worker runs `initializer` first (``cam.check``
  uses it to drop what a forked worker inherits from its parent);
- `DaskCluster`: the workers of a Dask distributed scheduler at an address
  (``--scheduler tcp://host:8786``), on as many machines as it has.  It
  needs the optional extra: ``pip install 'hotswap-cat[cluster]'``; the
  workers need the same version of this package.

>>> with InProcess() as ex:
...     sorted(ex.imap_unordered(abs, [-2, 1])), ex.call(max, 3, 4), ex.workers
([1, 2], 4, 1)
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import multiprocessing
import threading
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType, TracebackType
from typing import Any, TypeVar

from cam import machine

__all__ = ["Executor", "InProcess", "ProcessPool", "DaskCluster", "ClusterUnavailable", "campaign_settings",
           "fresh_worker", "machine_knobs"]

T = TypeVar("T")
R = TypeVar("R")


class ClusterUnavailable(RuntimeError):
    """Dask is not installed, or its scheduler cannot be reached."""


class Executor:
    """Runs a campaign's work; a context manager that releases its workers on exit."""

    workers = 1
    """How many items can run at once (to size the chunks)."""

    description = "1 job"
    """For the campaign's report line."""

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn(item)`` for every item, as they finish."""
        raise NotImplementedError

    def call(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)``, run where the work runs."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class InProcess(Executor):
    """Everything here, in order."""

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return map(fn, items)

    def call(self, fn: Callable[..., R], *args: Any) -> R:
        return fn(*args)


class ProcessPool(Executor):
    """`jobs` local processes, each starting with ``initializer()``."""

    def __init__(self, jobs: int, initializer: Callable[[], None] | None = None) -> None:
        # fork keeps the parent's modules (and a test's monkeypatches) and starts fast;
        # what else a forked worker inherits is for `initializer` to drop
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._pool = ctx.Pool(jobs, initializer=initializer)
        self.workers, self.description = jobs, f"{jobs} job{'s' if jobs != 1 else ''}"

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return self._pool.imap_unordered(fn, items)

    def call(self, fn: Callable[..., R], *args: Any) -> R:
        return self._pool.apply(fn, args)

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


class DaskCluster(Executor):
    """The workers of the Dask scheduler at `address` (imported on use: Dask is optional)."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError as e:
            raise ClusterUnavailable("--scheduler needs Dask's distributed scheduler, an optional extra: "
                                     "pip install 'hotswap-cat[cluster]'") from e
        try:
            self._client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise ClusterUnavailable(f"cannot reach the Dask scheduler at {address}: {e}") from e
        workers = self._client.scheduler_info().get("workers", {})
        threads = sum(w.get("nthreads", 1) for w in workers.values())
        self.workers = max(1, threads)
        self.description = f"Dask at {address}, {len(workers)} workers, {threads} threads"

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        from distributed import as_completed

        futures = self._client.map(fn, list(items), pure=False)
        try:
            for future in as_completed(futures, loop=self._client.loop):
                yield future.result()
        finally:  # stopped early (an error, or the consumer gave up): free the workers
            self._client.cancel([f for f in futures if not f.done()])

    def call(self, fn: Callable[..., R], *args: Any) -> R:
        return self._client.submit(fn, *args, pure=False).result()

    def close(self) -> None:
        self._client.close()


# ---------------------------------------------------------------- a worker's settings

_MACHINE_SETTINGS = (("JIT_AFTER", 0), ("CACHE_BUDGET", 0))
"""The machine's public knobs for code that runs once: translate nothing, keep nothing decoded."""


def _knob_home(name: str) -> ModuleType:
    """The module holding the machine's knob `name`: `cam.machine` here; `cam.jit` or `cam.decoded` once
    the translator and the decoded-code cache move there."""
    for module in ("cam.jit", "cam.decoded"):
        try:
            home = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        if hasattr(home, name):
            return home
    if hasattr(machine, name):
        return machine
    raise RuntimeError(f"the machine has no setting {name}: tell cam.campaign_dist where it went")


def machine_knobs() -> dict[str, Any]:
    """The current values of the machine's knobs that campaigns set (`JIT_AFTER`, `CACHE_BUDGET`)."""
    return {name: getattr(_knob_home(name), name) for name, _ in _MACHINE_SETTINGS}


class _Settings:
    lock = threading.Lock()
    users = 0
    saved: list[tuple[ModuleType, str, Any]] = []
    threshold = (700, 10, 10)
    froze = False


@contextlib.contextmanager
def campaign_settings() -> Iterator[None]:
    """The machine and the garbage collector set up for checking many terms once each; restored on exit.

    Each term's code runs once, so translating it to Python (which pays
    only for code run many times) or keeping it decoded would cost time
    and memory for nothing: the machine does neither (`JIT_AFTER` and
    `CACHE_BUDGET` at 0).  The terms are trees freed by reference counting
    once checked, yet the allocations trigger Python's cycle collector,
    which scanned them and every older object for about a fifth of a
    campaign's time: it now runs some 30 times less often, and skips the
    objects that existed before (`gc.freeze`).  Nested and concurrent uses (Dask
    worker threads) share one setting: the first sets it, the last restores.

    >>> with campaign_settings():
    ...     machine_knobs()
    {'JIT_AFTER': 0, 'CACHE_BUDGET': 0}
    >>> machine_knobs()["JIT_AFTER"] > 0
    True
    """
    with _Settings.lock:
        if _Settings.users == 0:
            _Settings.saved = [(home, name, getattr(home, name))
                               for name, _ in _MACHINE_SETTINGS for home in (_knob_home(name),)]
            for (home, name, _), (_, value) in zip(_Settings.saved, _MACHINE_SETTINGS):
                setattr(home, name, value)
            _Settings.threshold = gc.get_threshold()
            gc.set_threshold(max(_Settings.threshold[0], 50_000), *_Settings.threshold[1:])
            _Settings.froze = gc.get_freeze_count() == 0  # someone else's freeze is theirs to undo
            if _Settings.froze:
                gc.freeze()
        _Settings.users += 1
    try:
        yield
    finally:
        with _Settings.lock:
            _Settings.users -= 1
            if _Settings.users == 0:
                for home, name, value in _Settings.saved:
                    setattr(home, name, value)
                gc.set_threshold(*_Settings.threshold)
                if _Settings.froze:
                    gc.unfreeze()


def fresh_worker() -> None:
    """A forked worker starts without the decoded (and translated) code its parent had, and keeps the
    campaign's settings for its whole life (a chunk then does not set and restore them, which costs a
    collection of everything allocated since the last one)."""
    machine.clear_cache()
    _HELD.enter_context(campaign_settings())


_HELD = contextlib.ExitStack()
"""`campaign_settings` held by a pool's worker process until it ends."""
