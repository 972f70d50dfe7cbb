"""The reader under fuzzing (a small count for CI; ``bench/fuzz_reader.py`` runs >= 10,000):
random and mutated table files of every era, read whole and streamed, with no traceback and
every line staged, repaired or quarantined with a reason."""

from __future__ import annotations

import importlib.util
from pathlib import Path

FUZZ = Path(__file__).resolve().parents[1] / "bench" / "fuzz_reader.py"


def load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_reader", FUZZ)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_300_fuzzed_inputs_lose_no_line_and_raise_no_traceback():
    result = load_fuzzer().run(300, seed=20261206)
    assert result["failures"] == []
    assert (result["inputs_tried"], result["rows_lost"], result["tracebacks"], result["stream_differs"]) == (300, 0, 0, 0)
    assert 0 < result["refused"] < 150  # some inputs are refused whole (one line), most are read


def test_the_property_catches_a_reader_that_drops_a_line(monkeypatch):
    """The check can fail: a reader that forgets its last quarantined line is caught."""
    fuzz = load_fuzzer()
    from pv.faers import reader

    original = reader._slow_path

    def lossy(*args, **kwargs):
        good, repaired, bad = original(*args, **kwargs)
        return good, repaired, (bad.head(-1) if bad is not None else None)

    monkeypatch.setattr(reader, "_slow_path", lossy)
    result = fuzz.run(150, seed=20261206)
    assert result["rows_lost"] > 0 and result["failures"][0]["kind"] == "lines not accounted for"
