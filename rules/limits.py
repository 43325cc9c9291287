"""The legal limits as data, each entry citing its standard and clause (docs/domain.md).

Noise: GB 3096-2008 表1 (ambient, by zone class, day/night LAeq) with the night
sudden-noise allowance of GB 3096-2008 §5.4 (LAmax ≤ night limit + 15 dB(A)), and GB 22337-2008
表1 (shops, KTV, fans at the premises boundary: the same values, one class 4 at 70/55).
Fume: GB 18483-2001 表2 (2.0 mg/m³ for every size; purifier efficiency 60/75/85 % by
size class) and the stricter local option of DB11/1488-2018 (oil fume 1.0, particulate
5.0, NMHC 10.0 mg/m³). A community chooses which standard a site is judged by.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from linli.rules.registry import Zone


class Period(StrEnum):
    """GB 3096-2008 §3.6/3.7: day (昼间) and night (夜间), in local time."""

    DAY = "day"
    NIGHT = "night"


class NoiseStandard(StrEnum):
    """Which noise standard a site is judged by."""

    GB3096 = "GB 3096-2008"  # ambient: residential buildings
    GB22337 = "GB 22337-2008"  # social-life noise at a shop's boundary


class FumeStandard(StrEnum):
    """Which cooking-fume standard a site is judged by."""

    GB18483 = "GB 18483-2001"
    DB11_1488 = "DB11/1488-2018"  # the stricter local option (Beijing)


class SizeClass(StrEnum):
    """GB 18483-2001 表1: a kitchen's size by reference cooking heads (基准灶头数)."""

    SMALL = "small"  # ≥ 1, < 3
    MEDIUM = "medium"  # ≥ 3, < 6
    LARGE = "large"  # ≥ 6


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit: the value, its unit, and where it is written, in Chinese and English."""

    metric: str
    value: float
    unit: str
    standard: str
    clause_zh: str
    clause_en: str


# -- noise ---------------------------------------------------------------------------

# GB 3096-2008 表1 环境噪声限值 (dB(A)): (day, night) per zone class.
_GB3096: Final[dict[Zone, tuple[float, float]]] = {
    Zone.Z0: (50, 40),
    Zone.Z1: (55, 45),
    Zone.Z2: (60, 50),
    Zone.Z3: (65, 55),
    Zone.Z4A: (70, 55),
    Zone.Z4B: (70, 60),
}
# GB 22337-2008 表1 社会生活噪声排放源边界噪声排放限值: classes 0–3 as GB 3096, one class 4.
_GB22337: Final[dict[str, tuple[float, float]]] = {
    "0": (50, 40),
    "1": (55, 45),
    "2": (60, 50),
    "3": (65, 55),
    "4": (70, 55),
}
# GB 3096-2008 §5.4: at night the maximum sudden level may exceed the limit by ≤ 15 dB(A).
NIGHT_MAX_ALLOWANCE_DB: Final = 15.0

_PERIOD_ZH: Final = {Period.DAY: "昼间", Period.NIGHT: "夜间"}
_PERIOD_EN: Final = {Period.DAY: "day", Period.NIGHT: "night"}
_DBA: Final = "dB(A)"


def _class_22337(zone: Zone) -> str:
    return "4" if zone in (Zone.Z4A, Zone.Z4B) else zone.value


@functools.cache
def noise_limit(standard: NoiseStandard, zone: Zone, period: Period) -> Limit:
    """The LAeq limit for a zone class and period under a noise standard."""
    i = 0 if period is Period.DAY else 1
    if standard is NoiseStandard.GB22337:
        cls = _class_22337(zone)
        value = _GB22337[cls][i]
        zh = f"{standard} 表1 {cls}类 {_PERIOD_ZH[period]} {value:g} {_DBA}"
        en = f"{standard} Table 1, class {cls}, {_PERIOD_EN[period]}: {value:g} {_DBA}"
    else:
        value = _GB3096[zone][i]
        zh = f"{standard} 表1 {zone}类 {_PERIOD_ZH[period]} {value:g} {_DBA}"
        en = f"{standard} Table 1, class {zone}, {_PERIOD_EN[period]}: {value:g} {_DBA}"
    return Limit("laeq", value, _DBA, str(standard), zh, en)


@functools.cache
def night_max_limit(standard: NoiseStandard, zone: Zone) -> Limit:
    """GB 3096-2008 §5.4: LAmax at night may exceed the night LAeq limit by at most 15 dB(A)."""
    base = noise_limit(standard, zone, Period.NIGHT)
    value = base.value + NIGHT_MAX_ALLOWANCE_DB
    return Limit(
        "lamax",
        value,
        _DBA,
        base.standard,
        f"GB 3096-2008 §5.4 夜间突发噪声最大声级超过限值不得高于15 dB(A): "
        f"{base.value:g}+15 = {value:g} {_DBA}",
        f"GB 3096-2008 §5.4 night sudden noise: LAmax at most the night limit + 15: "
        f"{base.value:g}+15 = {value:g} {_DBA}",
    )


# -- cooking fume ----------------------------------------------------------------------

_MGM3: Final = "mg/m³"
_FUME_NAMES: Final = {
    "oil_fume": ("油烟", "oil fume"),
    "pm": ("颗粒物", "particulate matter"),
    "nmhc": ("非甲烷总烃", "NMHC"),
}
# (standard, metric) → (limit mg/m³, clause)
_FUME: Final[dict[tuple[FumeStandard, str], tuple[float, str]]] = {
    # GB 18483-2001 表2: 最高允许排放浓度 2.0 mg/m³, every size class.
    (FumeStandard.GB18483, "oil_fume"): (2.0, "表2"),
    # DB11/1488-2018 表1: oil fume 1.0, particulate 5.0, NMHC 10.0 mg/m³.
    (FumeStandard.DB11_1488, "oil_fume"): (1.0, "表1"),
    (FumeStandard.DB11_1488, "pm"): (5.0, "表1"),
    (FumeStandard.DB11_1488, "nmhc"): (10.0, "表1"),
}
FUME_METRICS: Final = ("oil_fume", "pm", "nmhc")
GB18483_OIL_FUME_MG_M3: Final = _FUME[(FumeStandard.GB18483, "oil_fume")][0]

# GB 18483-2001 表2: minimum purifier removal efficiency by size class.
PURIFIER_EFFICIENCY: Final[dict[SizeClass, float]] = {
    SizeClass.SMALL: 0.60,
    SizeClass.MEDIUM: 0.75,
    SizeClass.LARGE: 0.85,
}


def size_class(cooking_heads: float | None) -> SizeClass:
    """GB 18483-2001 表1: small 1–<3, medium 3–<6, large ≥ 6 reference heads (unknown: small)."""
    heads = cooking_heads or 0.0
    if heads >= 6:
        return SizeClass.LARGE
    if heads >= 3:
        return SizeClass.MEDIUM
    return SizeClass.SMALL


def fume_limit(
    standard: FumeStandard,
    metric: str,
    cooking_heads: float | None = None,
    override_mg: float | None = None,
) -> Limit | None:
    """The concentration limit of `metric` under a standard (None: the standard sets none)."""
    entry = _FUME.get((standard, metric))
    if entry is None and override_mg is None:
        return None
    value, table = entry if entry is not None else (override_mg or 0.0, "")
    if override_mg is not None:
        value = override_mg
    zh_name, en_name = _FUME_NAMES[metric]
    size = size_class(cooking_heads)
    size_zh = {"small": "小型", "medium": "中型", "large": "大型"}[size]
    where = f" {table}" if table else " (社区配置)"
    where_en = f" Table {table.removeprefix('表')}" if table else " (community setting)"
    return Limit(
        metric,
        value,
        _MGM3,
        str(standard),
        f"{standard}{where} {size_zh} {zh_name}最高允许排放浓度 {value:g} {_MGM3}",
        f"{standard}{where_en}, {size} kitchen, {en_name} maximum {value:g} {_MGM3}",
    )


def purifier_limit(standard: FumeStandard, cooking_heads: float | None) -> Limit:
    """GB 18483-2001 §5.1: emitting without the purifier running counts as exceeding."""
    size = size_class(cooking_heads)
    eff = PURIFIER_EFFICIENCY[size]
    return Limit(
        "purifier_on",
        eff,
        "",
        "GB 18483-2001",
        f"GB 18483-2001 §5.1 排放油烟须经净化设施处理, 未运行净化设施视同超标 "
        f"(净化效率不低于{eff:.0%})",
        f"GB 18483-2001 §5.1 fume must pass a running purifier; running without it counts "
        f"as exceeding (removal efficiency ≥ {eff:.0%})",
    )
