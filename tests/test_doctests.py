"""Doctests of the packages that live outside graphfraud/ in the repo (loaders/, queries/, data/).

pytest's own doctest collection would import them as top-level packages; here
they are imported by the names users see (graphfraud.loaders, ...).
"""

import doctest
import importlib

import pytest

MODULES = ["graphfraud.loaders", "graphfraud.loaders.sqlite_file", "graphfraud.loaders.csv_folder",
           "graphfraud.loaders.parquet_folder",
           "graphfraud.queries", "graphfraud.data"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
