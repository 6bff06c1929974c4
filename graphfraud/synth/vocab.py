"""Vocabulary of the generator: countries, regions, domains, and unique ids rendered as IPs, devices and times."""

from __future__ import annotations

import numpy as np
import pandas as pd

COUNTRIES = np.array(["US", "GB", "DE", "FR", "IN", "BR", "ES", "PL", "NL", "JP", "CA", "AU", "IT", "SE", "MX", "SG"])
COUNTRY_P = np.array([30, 10, 9, 7, 8, 6, 5, 4, 4, 4, 4, 3, 3, 1, 1, 1], dtype=float)
COUNTRY_P /= COUNTRY_P.sum()
FOREIGN = np.array(["RU", "CN", "VN", "NG", "RO", "UA", "KP", "IR"])
REGIONS = np.array(["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1",
                     "ap-southeast-1", "ap-northeast-1", "sa-east-1", "ca-central-1"])
DOMAINS = np.array(["example.com", "corp.com", "pro.net", "mail.org", "startup.io", "shop.co"])
THROWAWAY = np.array(["tempmail.xyz", "quickbox.top", "mailnow.click", "fastinbox.icu"])
BENIGN_ACTIONS = np.array(["RUN_INSTANCES", "TERMINATE_INSTANCES", "CREATE_SECURITY_GROUP", "CREATE_KEY_PAIR",
                            "ALLOCATE_ADDRESS", "DESCRIBE_INSTANCES"])
FINDING_TYPES = np.array(["CREDENTIAL_EXFIL", "ABUSE_COMPUTE", "BRUTE_FORCE"])

#: the currency most of a country's own payments are in (COUNTRIES order)
LOCAL_CURRENCY = np.array(["USD", "GBP", "EUR", "EUR", "INR", "BRL", "EUR", "PLN", "EUR", "JPY", "CAD", "AUD", "EUR",
                           "SEK", "MXN", "SGD"])
#: what migrants send home through money-transfer services
REMITTANCE_CURRENCIES = np.array(["XAF", "XOF", "PHP", "NGN", "KES", "INR", "MXN"])
#: USD per unit near the default start; the fx_rates table walks around these day by day
FX_LEVELS = {"EUR": 1.09, "GBP": 1.28, "INR": 0.0119, "BRL": 0.18, "PLN": 0.255, "JPY": 0.0068, "CAD": 0.73,
             "AUD": 0.655, "SEK": 0.095, "MXN": 0.054, "SGD": 0.76, "PHP": 0.0175, "NGN": 0.00065, "KES": 0.0077}
#: CFA francs are pegged to the euro (units per EUR)
PEGGED_TO_EUR = {"XAF": 655.957, "XOF": 655.957}
#: currencies without minor units (amounts are whole numbers)
ZERO_DECIMALS = ("JPY", "XAF", "XOF")
#: USD first: every currency a generated payment may be in
CURRENCY_CODES = np.array(["USD", *FX_LEVELS, *PEGGED_TO_EUR])
#: merchant category: (share of everyday payments, median amount in USD, lognormal spread)
MERCHANT_CATEGORIES = {
    "GROCERY": (0.22, 45.0, 0.5), "FOOD": (0.17, 22.0, 0.5), "RETAIL": (0.18, 60.0, 0.7), "FUEL": (0.07, 50.0, 0.3),
    "SUBSCRIPTIONS": (0.08, 13.0, 0.4), "DIGITAL_GOODS": (0.08, 12.0, 0.8), "ELECTRONICS": (0.06, 180.0, 0.9),
    "TRAVEL": (0.06, 280.0, 0.8), "GIFT_CARDS": (0.04, 50.0, 0.5), "MONEY_TRANSFER": (0.04, 150.0, 0.7),
}


class Ids:
    """Allocates IP and device ids unique across chunks."""

    def __init__(self, chunk: int, chunk_size: int):
        stride = 12 * chunk_size + 10_000  # far more than a chunk ever allocates
        self.ip_next = chunk * stride
        self.dev_next = chunk * stride

    def ips(self, k: int) -> np.ndarray:
        out = np.arange(self.ip_next, self.ip_next + k, dtype=np.int64)
        self.ip_next += k
        return out

    def devices(self, k: int) -> np.ndarray:
        out = np.arange(self.dev_next, self.dev_next + k, dtype=np.int64)
        self.dev_next += k
        return out


FIRST_OCTETS = np.array([o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198)])


def ip_text(ids: np.ndarray) -> np.ndarray:
    """Public-looking, unique IPv4 text for each integer id."""
    ids = (np.asarray(ids, dtype=np.int64) * 2654435761) % (1 << 31)  # odd multiplier: a bijection
    first = FIRST_OCTETS[ids % len(FIRST_OCTETS)]
    rest = ids // len(FIRST_OCTETS)
    parts = [first, (rest >> 16) & 255, (rest >> 8) & 255, rest & 255]
    return join([p.astype(str) for p in parts], ".")


def join(parts: list[np.ndarray], sep: str) -> np.ndarray:
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + sep + p.astype(object)
    return out


def code_text(ids: np.ndarray, width: int = 12, salt: int = 0) -> np.ndarray:
    """12-character device fingerprints (base 36) from integer ids, unique per id."""
    alphabet = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
    x = (np.asarray(ids, dtype=np.uint64) * np.uint64(6364136223846793005) + np.uint64(salt * 1442695040888963407 + 1))
    digits = np.empty((len(x), width), dtype=np.uint8)
    for k in range(width):
        digits[:, k] = alphabet[(x % np.uint64(36)).astype(np.int64)]
        x //= np.uint64(36)
    return digits.view(f"S{width}").ravel().astype(str).astype(object)


def opaque_ids(keys: np.ndarray, prefix: str, salt: int = 0) -> np.ndarray:
    """``prefix`` and 10 base-36 characters per key below 2**48, unique per key (an odd multiple mod 2**48)."""
    alphabet = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
    mask = np.uint64((1 << 48) - 1)
    x = (np.asarray(keys, dtype=np.uint64) * np.uint64(0x9E3779B97F4B) + np.uint64(salt * 7919)) & mask
    digits = np.empty((len(x), 10), dtype=np.uint8)
    for k in range(10):  # 36**10 > 2**48: no two keys share a text
        digits[:, k] = alphabet[(x % np.uint64(36)).astype(np.int64)]
        x //= np.uint64(36)
    return np.char.add(prefix, digits.view("S10").ravel().astype(str)).astype(object)


def minute_text(start: pd.Timestamp, days: int) -> np.ndarray:
    minutes = pd.date_range(start, periods=days * 1440 + 1, freq="min")
    return np.asarray(minutes.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)


def second_text(start: pd.Timestamp, seconds: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD HH:MM:SS`` text of whole seconds after ``start`` (negative: before it), without strftime."""
    at = np.datetime64(start.to_datetime64(), "s") + np.asarray(seconds, dtype=np.int64).astype("timedelta64[s]")
    text = np.datetime_as_string(at, unit="s")  # 2025-08-01T10:00:05
    chars = text.view(np.uint32).reshape(len(text), text.dtype.itemsize // 4).copy()
    chars[:, 10] = ord(" ")
    return chars.view(text.dtype).ravel().astype(object)


def diurnal_minutes(rng, k: int) -> np.ndarray:
    hours = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 7, 8, 8, 7, 7, 7, 6, 5, 4, 3, 2], dtype=float)
    h = rng.choice(24, size=k, p=hours / hours.sum())
    return h * 60 + rng.integers(0, 60, size=k)
