"""The bundled sample case, made by ``graphfraud generate --accounts 1500 --days 45 --seed 7``.

Its ground truth (rings, campaigns, takeovers) is beside it in
``sample_case.truth.sqlite``, apart from the case itself.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["sample_case_path", "SAMPLE_SEED", "SAMPLE_ACCOUNTS", "SAMPLE_DAYS"]

SAMPLE_SEED = 7
SAMPLE_ACCOUNTS = 1500
SAMPLE_DAYS = 45


def sample_case_path() -> Path:
    """Path of the small generated case shipped with the package.

    Examples
    --------
    >>> sample_case_path().name
    'sample_case.sqlite'
    """
    return Path(__file__).with_name("sample_case.sqlite")
