"""The generator's knobs."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

__all__ = ["SynthConfig"]


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator; the defaults give ~30 logins per account over 60 days."""

    n_accounts: int = 2000
    seed: int = 0
    start: str = "2025-08-01"
    days: int = 60
    login_rate: float = 0.5
    chunk_size: int = 25_000
    household_share: float = 0.05
    mobile_share: float = 0.35
    vpn_share: float = 0.04
    traveller_share: float = 0.06
    accounts_per_hub: int = 300
    accounts_per_campaign: int = 1000
    accounts_per_ring: int = 350
    ring_size: tuple[int, int] = (4, 12)
    missing_reputation_share: float = 0.02

    def __post_init__(self):
        if self.n_accounts < 50:
            raise InputError(f"n_accounts must be at least 50 to hold rings and campaigns, got {self.n_accounts}")
        if self.days < 21:
            raise InputError(f"days must be at least 21 (a 14-day window plus history), got {self.days}")
