"""Postponing the cyclic garbage collector while a batch of sites is built."""

from __future__ import annotations

import gc

import pytest

from citybrain.citydata import NYC_DOB_PERMITS, SiteImportError, import_text, no_cyclic_gc
from support.citydata_samples import nyc_csv, nyc_row


def test_the_collector_is_off_inside_and_back_after() -> None:
    assert gc.isenabled()
    with no_cyclic_gc():
        assert not gc.isenabled()
        with no_cyclic_gc():  # nested: the inner one leaves it to the outer
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), no_cyclic_gc():
        raise RuntimeError("refused")
    assert gc.isenabled()


def test_a_caller_that_turned_it_off_keeps_it_off() -> None:
    gc.disable()
    try:
        with no_cyclic_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_import_leaves_the_collector_as_it_found_it() -> None:
    import_text(nyc_csv(nyc_row()), NYC_DOB_PERMITS, label="p.csv")
    assert gc.isenabled()
    with pytest.raises(SiteImportError, match="not a number"):
        import_text(nyc_csv(nyc_row(gis_latitude="north")), NYC_DOB_PERMITS, label="p.csv")
    assert gc.isenabled()
