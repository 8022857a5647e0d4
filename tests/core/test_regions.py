"""Countries and subdivisions as the ``holidays`` library codes them, read the way people
write them, and named for people."""
from __future__ import annotations

import pytest

from reconciler.core.regions import country_code, region_name, subdivision_code

COUNTRIES = [("FR", "FR"), ("fr", "FR"), ("FRA", "FR"), ("France", "FR"), ("united states", "US"),
             ("United_States", "US"), ("XX", None), ("Frankreich", None)]


@pytest.mark.parametrize(("written", "code"), COUNTRIES, ids=[c[0] for c in COUNTRIES])
def test_country_code(written: str, code: str | None) -> None:
    assert country_code(written) == code


SUBDIVISIONS = [("DE", "BY", "BY"), ("DE", "by", "BY"), ("DE", "Bayern", "BY"), ("US", "new york", "NY"),
                ("FR", "zone a", "Zone A"), ("FR", "Guadeloupe", "971"), ("DE", "Bavaria?", None)]


@pytest.mark.parametrize(("country", "written", "code"), SUBDIVISIONS, ids=[c[1] for c in SUBDIVISIONS])
def test_subdivision_code(country: str, written: str, code: str | None) -> None:
    assert subdivision_code(country, written) == code


NAMES = [("FR", "France"), ("DE-BY", "Germany (Bayern)"), ("US-NY", "United States (New York)"),
         ("FR-971", "France (Guadeloupe)"), ("GB", "United Kingdom"), ("ZZ", "ZZ")]


@pytest.mark.parametrize(("code", "name"), NAMES, ids=[c[0] for c in NAMES])
def test_region_name(code: str, name: str) -> None:
    assert region_name(code) == name
