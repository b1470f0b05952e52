"""The machine's cache of decoded code is bounded by total size, not by count."""

from cam import decoded, machine
from cam.code import ID, Code, IntV, UnitV


def test_decoded_code_kept_is_bounded_by_size(monkeypatch):
    monkeypatch.setattr(decoded, "CACHE_BUDGET", 50_000)
    for n in range(40):
        code = Code([ID] * (5_000 + n))  # 40 distinct codes of about 5,000 instructions
        assert machine.step(code, IntV(n), UnitV) == (UnitV, IntV(n))
        assert sum(b.size for _, b in decoded.cached()) <= 50_000
        assert all(b is decoded._CACHE.get(c) for c, b in decoded._BY_ID.values() if c in decoded._CACHE)
    # a code larger than the whole budget runs, and is not kept
    big = Code([ID] * 60_000)
    assert machine.step(big, IntV(1), UnitV) == (UnitV, IntV(1))
    assert big not in dict(decoded.cached())


def test_a_hot_code_is_decoded_once():
    code = Code([ID, ID])
    first = decoded.decode(code)
    assert decoded.decode(code) is first
    assert decoded.decode(Code([ID, ID])) is first  # an equal code, another object
