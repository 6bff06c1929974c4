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


def minute_text(start: pd.Timestamp, days: int) -> np.ndarray:
    minutes = pd.date_range(start, periods=days * 1440 + 1, freq="min")
    return np.asarray(minutes.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)


def diurnal_minutes(rng, k: int) -> np.ndarray:
    hours = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 7, 8, 8, 7, 7, 7, 6, 5, 4, 3, 2], dtype=float)
    h = rng.choice(24, size=k, p=hours / hours.sum())
    return h * 60 + rng.integers(0, 60, size=k)
