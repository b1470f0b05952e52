"""Tests do not depend on each other's caches: the autouse fixture in conftest empties them."""

from cam import decoded
from cam.code import ID, Code, UnitV
from cam.machine import execute
from tests.conftest import clear_caches

CODE = Code([ID, ID, ID])


def test_clearing_empties_the_machine_cache_and_the_memoised_functions():
    import catlib.ports  # noqa: F401 - a module with a memoised function

    execute(CODE, UnitV, UnitV)
    assert decoded.decode(CODE).runs == 1
    cleared = clear_caches()
    assert "cam.decoded.clear_cache()" in cleared and "catlib.ports.kadd" in cleared
    assert decoded.decode(CODE).runs == 0  # decoded afresh: nothing remembered


def test_each_test_starts_afresh_part_1():
    execute(CODE, UnitV, UnitV)
    assert decoded.decode(CODE).runs == 1


def test_each_test_starts_afresh_part_2():
    # part 1 ran CODE once; without the autouse fixture this block would count 2 runs
    execute(CODE, UnitV, UnitV)
    assert decoded.decode(CODE).runs == 1
