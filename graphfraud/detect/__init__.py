"""Stage 2, detect: per-account and per-IP detectors that need no graph.

``signals`` scores every account over the signal window; ``bursts`` finds a
risky failed login followed by an EC2 launch burst across regions;
``campaigns`` finds credential-stuffing IPs (whose victims are not a ring);
``transaction_flags`` converts, flags and tiers every payment (the ETL's rows);
``micro`` finds spikes in short sliding windows against each entity's own history.
A new detector is a module here returning a DataFrame with documented columns.
"""

from .bursts import BURST_COLUMNS, detect_bursts
from .campaigns import CAMPAIGN_COLUMNS, detect_campaigns
from .micro import MICRO_ALERT_COLUMNS, MicroParams, MicroState, micro_features, micro_windows, spike_counts
from .signals import DEFAULT_WEIGHTS, SIGNAL_COLUMNS, account_signals
from .transaction_flags import TransactionParams, customer_aggregates, transactions

__all__ = ["account_signals", "detect_bursts", "detect_campaigns", "DEFAULT_WEIGHTS", "SIGNAL_COLUMNS",
           "BURST_COLUMNS", "CAMPAIGN_COLUMNS", "TransactionParams", "customer_aggregates", "transactions",
           "MICRO_ALERT_COLUMNS", "MicroParams", "MicroState", "micro_features", "micro_windows", "spike_counts"]
