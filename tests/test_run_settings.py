"""A scheduled run's settings are checked before any work: a typo must never fall through to
downloading all of FAERS (pv.settings)."""

from __future__ import annotations

import pytest

from pv.errors import PvError
from pv.settings import RunSettings


def test_known_settings_parse_with_their_defaults():
    s = RunSettings.parse({"paths": ["/data/faers"], "home": "/data/pvdata", "drugs": ["baclofen"],
                           "quarters": "2024Q1..2024Q4", "base_url": "http://127.0.0.1:9/x"})
    assert s.as_dict() == {"home": "/data/pvdata", "paths": ["/data/faers"], "quarters": "2024Q1..2024Q4",
                           "base_url": "http://127.0.0.1:9/x", "drugs": ["baclofen"]}
    assert RunSettings.parse(None).as_dict() == {"home": None, "paths": [], "quarters": None, "base_url": None,
                                                 "drugs": []}
    # Airflow hands over every declared param, nulls included
    assert RunSettings.parse({"home": None, "paths": [], "quarters": None, "base_url": None, "drugs": []}) == \
        RunSettings()


@pytest.mark.parametrize("conf, message", [
    ({"path": ["/data/faers"]}, "unknown setting 'path' (did you mean 'paths'?)"),
    ({"drug": ["baclofen"]}, "unknown setting 'drug' (did you mean 'drugs'?)"),
    ({"colour": "red"}, "unknown setting 'colour'; known: home, paths, quarters, base_url, drugs"),
    ({"paths": "/data/faers"}, "'paths' must be a list of non-empty strings"),
    ({"paths": [""]}, "'paths' must be a list of non-empty strings"),
    ({"drugs": [1, 2]}, "'drugs' must be a list of non-empty strings"),
    ({"home": 3}, "'home' must be a non-empty string or null"),
    ({"quarters": "2024Q5"}, "'quarters': not a quarter: '2024Q5'"),
    ({"quarters": "2025Q1..2024Q1"}, "'quarters': empty quarter range"),
    ({"base_url": "file:///etc"}, "'base_url' must be an http(s) URL"),
])
def test_bad_settings_are_one_clear_line(conf, message):
    with pytest.raises(PvError) as err:
        RunSettings.parse(conf)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("run settings: ")
