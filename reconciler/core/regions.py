"""The countries and subdivisions whose public holidays a calendar may exclude: the ``holidays``
library's, by its codes (ISO 3166-1 alpha-2 for a country; the library's own codes for a
subdivision, "BY" in Germany, "Zone A" in France), their names for people, and a code read
the way people write it ("fra", "Bayern"). Read once, lazily: importing ``holidays`` and
listing its countries takes about 0.1 s, which a run without a calendar never pays."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple


class Country(NamedTuple):
    code: str  # alpha-2
    name: str  # "United States"
    subdivisions: dict[str, str]  # code → its name ("BY" → "Bayern"), or the code itself when none is known


@lru_cache(maxsize=1)
def countries() -> dict[str, Country]:
    """Every supported country by its alpha-2 code."""
    import holidays
    from holidays.registry import COUNTRIES

    supported = holidays.list_supported_countries(include_aliases=False)
    names = {entry[1]: _spaced(entry[0]) for entry in COUNTRIES.values()}
    return {
        code: Country(code, names.get(code, code), _subdivisions(code, subdivisions))
        for code, subdivisions in sorted(supported.items())
    }


@lru_cache(maxsize=1)
def aliases() -> dict[str, str]:
    """What people write for a country (alpha-2, alpha-3, its name; any case, no spaces) → alpha-2."""
    from holidays.registry import COUNTRIES

    found: dict[str, str] = {}
    for entry in COUNTRIES.values():
        name, alpha2, alpha3 = entry[:3]
        if alpha2 in countries():
            found.update({_folded(name): alpha2, alpha3.upper(): alpha2})
    found.update({code: code for code in countries()})
    return found


def country_code(written: str) -> str | None:
    """The alpha-2 code of a country written as a code (alpha-2 or -3) or a name, or None."""
    return aliases().get(written.strip().upper()) or aliases().get(_folded(written))


def subdivision_code(country: str, written: str) -> str | None:
    """The library's code of a subdivision written as its code or its name (any case), or None."""
    known = countries()[country].subdivisions
    wanted = written.strip().casefold()
    return next((code for code, name in known.items() if wanted in (code.casefold(), name.casefold())), None)


def region_name(code: str) -> str:
    """``FR`` → "France"; ``DE-BY`` → "Germany (Bayern)" (the code itself when unknown)."""
    country, _, subdivision = code.partition("-")
    known = countries().get(country)
    if known is None:
        return code
    if not subdivision:
        return known.name
    return f"{known.name} ({known.subdivisions.get(subdivision, subdivision)})"


def _subdivisions(code: str, listed: list[str]) -> dict[str, str]:
    import holidays

    named = getattr(holidays.country_holidays(code), "subdivisions_aliases", {}) or {}
    by_code: dict[str, str] = {}
    for name, sub in named.items():
        if sub in listed and sub != name and len(name) > len(by_code.get(sub, "")):
            by_code[sub] = name  # the longest alias: a name rather than another code ("Guadeloupe", not "GUA")
    return {sub: by_code.get(sub, sub) for sub in listed}


def _spaced(class_name: str) -> str:
    """``UnitedStates`` → "United States" (the library names countries by class)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name)


def _folded(name: str) -> str:
    return re.sub(r"[\s_'-]", "", name).upper()
