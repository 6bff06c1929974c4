"""The generator's knobs."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import InputError

__all__ = ["SynthConfig", "RING_SHAPES", "HONEST_KINDS", "LOCKSTEP_ONLY", "FRAUD_PATTERNS", "HONEST_PATTERNS"]

#: Ring shapes in the ground truth (``truth_rings.shape``), in the order a chunk allocates them.
RING_SHAPES = ("lockstep", "slow", "device_farm", "tiny", "proxy_rotation", "carrier_nat")
#: Kinds of honest groups in the ground truth (``truth_honest_groups.kind``): groups that share
#: infrastructure for honest reasons and should never be flagged as rings.
HONEST_KINDS = ("household", "family_tablet", "msp", "public_ip")
#: Payment patterns in the ground truth (``truth_payments.pattern``) with ``fraud = 1``
#: (see :mod:`graphfraud.synth.money`).
FRAUD_PATTERNS = ("card_testing", "pile_up", "ring_cycle", "high_amount", "fraud_merchant")
#: Payment patterns with ``fraud = 0``: everyday payments, and the honest ones that look like fraud.
HONEST_PATTERNS = ("honest", "camouflage", "shared_ip", "shared_device", "busy_shopper", "traveller", "big_ticket",
                   "remittance", "legacy_import")

# smallest group each size knob may ask for: a ring needs two accounts, a tiny ring one mule
# beside its fraudster, a farm several accounts one after another
_MIN_SIZE = {"ring_size": 2, "small_lockstep_size": 2, "slow_ring_size": 2, "device_farm_size": 2,
             "tiny_ring_size": 2, "proxy_rotation_size": 2, "carrier_nat_size": 2, "msp_clients": 2,
             "family_tablet_size": 2}


#: Options that turn every shape and honest group off but the original ones, giving the cases the
#: generator made before shapes existed (same seed, same tables): ``generate_case(n, **LOCKSTEP_ONLY)``.
LOCKSTEP_ONLY = {"accounts_per_small_lockstep_ring": 0, "accounts_per_slow_ring": 0, "accounts_per_device_farm": 0,
                 "accounts_per_tiny_ring": 0, "accounts_per_proxy_rotation_ring": 0,
                 "accounts_per_carrier_nat_ring": 0, "accounts_per_msp": 0, "accounts_per_family_tablet": 0}


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator; the defaults give ~30 logins per account over 60 days.

    Each chunk of ``chunk_size`` accounts gets ``max(1, round(accounts / accounts_per_X))``
    groups of every shape (as many as its spare accounts allow; ``0`` turns a shape off), each
    with a size drawn uniformly from the matching ``(low, high)`` range. With the defaults a
    5,000-account case has two rings of every shape and a 50,000-account case sixteen.

    Attributes
    ----------
    accounts_per_ring, ring_size
        Lockstep rings as they always were: proxies and devices shared within minutes, members
        with a normal life beside.
    accounts_per_small_lockstep_ring, small_lockstep_size
        More lockstep rings, of two or three accounts.
    accounts_per_slow_ring, slow_ring_size
        One operator working the members through 1-2 residential proxies, hours apart, over weeks.
    accounts_per_device_farm, device_farm_size
        Fresh accounts used one after another on one emulator, each from its own IP for a few days.
    accounts_per_tiny_ring, tiny_ring_size
        A fraudster's own everyday account plus mules, used minutes apart on a few evenings
        (the size counts the fraudster).
    accounts_per_proxy_rotation_ring, proxy_rotation_size
        Lockstep sessions, each login through a fresh residential exit, on 1-2 devices.
    accounts_per_carrier_nat_ring, carrier_nat_size
        Accounts on 2-6 phones, all behind one busy carrier-NAT IP, in lockstep.
    accounts_per_msp, msp_clients
        Honest: an IT admin logging into enterprise clients minutes apart from one office.
    accounts_per_family_tablet, family_tablet_size
        Honest: a family sharing a home IP and a tablet, sometimes minutes apart.
    money_side
        Payments with ids, currencies, merchants, IPs and devices, fraud patterns and their
        truth, plus the ``blocklist`` and ``fx_rates`` tables (:mod:`graphfraud.synth.money`).
        ``False`` gives the six tables with the plain payments of before (same seed, same
        tables); the other five tables are the same either way.
    payments_per_account
        Everyday payments per account over the whole case, on average (the fraud patterns and
        honest look-alikes add a few percent).

    Examples
    --------
    >>> SynthConfig(n_accounts=5000, accounts_per_device_farm=0).accounts_per_device_farm
    0
    """

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
    accounts_per_small_lockstep_ring: int = 3000
    small_lockstep_size: tuple[int, int] = (2, 3)
    accounts_per_slow_ring: int = 3000
    slow_ring_size: tuple[int, int] = (4, 15)
    accounts_per_device_farm: int = 3000
    device_farm_size: tuple[int, int] = (10, 60)
    accounts_per_tiny_ring: int = 3000
    tiny_ring_size: tuple[int, int] = (2, 3)
    accounts_per_proxy_rotation_ring: int = 3000
    proxy_rotation_size: tuple[int, int] = (5, 20)
    accounts_per_carrier_nat_ring: int = 3000
    carrier_nat_size: tuple[int, int] = (20, 60)
    accounts_per_msp: int = 5000
    msp_clients: tuple[int, int] = (5, 15)
    accounts_per_family_tablet: int = 2500
    family_tablet_size: tuple[int, int] = (2, 3)
    money_side: bool = True
    payments_per_account: float = 10.0

    def __post_init__(self):
        if self.n_accounts < 50:
            raise InputError(f"n_accounts must be at least 50 to hold rings and campaigns, got {self.n_accounts}")
        if self.days < 21:
            raise InputError(f"days must be at least 21 (a 14-day window plus history), got {self.days}")
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("accounts_per_") and f.name not in ("accounts_per_hub", "accounts_per_campaign",
                                                                      "accounts_per_ring"):
                if not isinstance(value, int) or value < 0:
                    problems.append(f"{f.name} must be a whole number >= 0 (0 turns the shape off), got {value!r}")
            elif f.name in _MIN_SIZE:
                ok = (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value)
                      and _MIN_SIZE[f.name] <= value[0] <= value[1])
                if not ok:
                    problems.append(f"{f.name} must be (low, high) whole numbers with {_MIN_SIZE[f.name]} <= low "
                                    f"<= high, got {value!r}")
        ppa = self.payments_per_account
        if isinstance(ppa, bool) or not isinstance(ppa, (int, float)) or not 0 <= ppa <= 1000:
            problems.append(f"payments_per_account must be a number from 0 to 1000, got {ppa!r}")
        if problems:
            raise InputError("; ".join(problems))
