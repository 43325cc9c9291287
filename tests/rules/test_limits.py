"""The limit table: values, and the clause each cites in Chinese and English."""

from __future__ import annotations

import pytest

from linli.rules.limits import (
    FumeStandard,
    NoiseStandard,
    Period,
    SizeClass,
    fume_limit,
    night_max_limit,
    noise_limit,
    purifier_limit,
    size_class,
)
from linli.rules.registry import Zone

G3, G22 = NoiseStandard.GB3096, NoiseStandard.GB22337
D, N = Period.DAY, Period.NIGHT

NOISE = [
    pytest.param(G3, Zone.Z0, D, 50, id="GB 3096 class 0 day 50"),
    pytest.param(G3, Zone.Z0, N, 40, id="GB 3096 class 0 night 40"),
    pytest.param(G3, Zone.Z1, D, 55, id="GB 3096 class 1 day 55"),
    pytest.param(G3, Zone.Z1, N, 45, id="GB 3096 class 1 night 45"),
    pytest.param(G3, Zone.Z2, D, 60, id="GB 3096 class 2 day 60"),
    pytest.param(G3, Zone.Z2, N, 50, id="GB 3096 class 2 night 50"),
    pytest.param(G3, Zone.Z3, D, 65, id="GB 3096 class 3 day 65"),
    pytest.param(G3, Zone.Z3, N, 55, id="GB 3096 class 3 night 55"),
    pytest.param(G3, Zone.Z4A, D, 70, id="GB 3096 class 4a day 70"),
    pytest.param(G3, Zone.Z4A, N, 55, id="GB 3096 class 4a night 55"),
    pytest.param(G3, Zone.Z4B, D, 70, id="GB 3096 class 4b day 70"),
    pytest.param(G3, Zone.Z4B, N, 60, id="GB 3096 class 4b night 60"),
    pytest.param(G22, Zone.Z2, N, 50, id="GB 22337 class 2 night 50"),
    pytest.param(G22, Zone.Z4A, D, 70, id="GB 22337 class 4 (from 4a) day 70"),
    pytest.param(G22, Zone.Z4B, N, 55, id="GB 22337 class 4 (from 4b) night 55, not 60"),
]


@pytest.mark.parametrize(("standard", "zone", "period", "value"), NOISE)
def test_noise_limits(standard, zone, period, value):
    assert noise_limit(standard, zone, period).value == value


def test_clause_is_cited_in_chinese_and_english():
    limit = noise_limit(G3, Zone.Z2, N)
    assert limit.clause_zh == "GB 3096-2008 表1 2类 夜间 50 dB(A)"
    assert limit.clause_en == "GB 3096-2008 Table 1, class 2, night: 50 dB(A)"
    assert noise_limit(G22, Zone.Z4B, N).clause_zh == "GB 22337-2008 表1 4类 夜间 55 dB(A)"


def test_night_max_is_night_limit_plus_15():
    limit = night_max_limit(G3, Zone.Z2)
    assert (limit.metric, limit.value) == ("lamax", 65)
    assert limit.clause_zh.startswith("GB 3096-2008 §5.4")


FUME = [
    pytest.param(FumeStandard.GB18483, "oil_fume", None, 2.0, id="GB 18483 oil fume 2.0"),
    pytest.param(FumeStandard.GB18483, "pm", None, None, id="GB 18483 sets no particulate limit"),
    pytest.param(FumeStandard.DB11_1488, "oil_fume", None, 1.0, id="DB11/1488 oil fume 1.0"),
    pytest.param(FumeStandard.DB11_1488, "pm", None, 5.0, id="DB11/1488 particulate 5.0"),
    pytest.param(FumeStandard.DB11_1488, "nmhc", None, 10.0, id="DB11/1488 NMHC 10.0"),
    pytest.param(FumeStandard.GB18483, "oil_fume", 1.5, 1.5, id="a community override wins"),
]


@pytest.mark.parametrize(("standard", "metric", "override", "value"), FUME)
def test_fume_limits(standard, metric, override, value):
    limit = fume_limit(standard, metric, 2, override)
    assert (None if limit is None else limit.value) == value


@pytest.mark.parametrize(
    ("heads", "size", "efficiency"),
    [
        pytest.param(1, SizeClass.SMALL, 0.60, id="1 head → small, 60 %"),
        pytest.param(2.9, SizeClass.SMALL, 0.60, id="2.9 heads → small"),
        pytest.param(3, SizeClass.MEDIUM, 0.75, id="3 heads → medium, 75 %"),
        pytest.param(6, SizeClass.LARGE, 0.85, id="6 heads → large, 85 %"),
    ],
)
def test_size_classes(heads, size, efficiency):
    assert size_class(heads) is size
    assert purifier_limit(FumeStandard.GB18483, heads).value == efficiency


def test_fume_clause():
    limit = fume_limit(FumeStandard.GB18483, "oil_fume", 8)
    assert limit is not None
    assert limit.clause_zh == "GB 18483-2001 表2 大型 油烟最高允许排放浓度 2 mg/m³"
