"""Graph stores, chosen by URL: the same flow over NetworkX in memory or any Gremlin store.

``base`` writes the flow once (:class:`GraphBackend`); ``memory`` keeps the graph
in a NetworkX DiGraph (the default); ``gremlin`` keeps it in any store reached
through gremlinpython (gremlite on a SQLite file, a TinkerPop Gremlin Server,
Amazon Neptune); ``gremlite_tables`` writes new elements straight into a gremlite
store's SQLite tables, so an empty store loads without an upsert per element. A
new store is a subclass of :class:`GraphBackend` plus one entry in :data:`STORES`.
"""

from __future__ import annotations

from urllib.parse import urlparse

from ...errors import InputError
from .base import EVIDENCE_COLUMNS, GraphBackend, ring_properties, snapshot_frames
from .memory import NetworkXBackend

__all__ = ["GraphBackend", "NetworkXBackend", "connect", "STORES", "ring_properties", "snapshot_frames",
           "EVIDENCE_COLUMNS"]


def _networkx(url: str, **options) -> GraphBackend:
    if options:
        raise InputError(f"the networkx store takes no options, got {sorted(options)}")
    return NetworkXBackend()


def _gremlin(url: str, **options) -> GraphBackend:
    # imported on use: gremlinpython is only needed by those who ask for a Gremlin store
    from .gremlin import GremlinBackend

    return GremlinBackend(url, **options)


#: URL scheme -> how to open that store
STORES = {"networkx": _networkx, "nx": _networkx, "gremlite": _gremlin, "ws": _gremlin, "wss": _gremlin}


def connect(url: str = "networkx", **options) -> GraphBackend:
    """Open a graph store by URL.

    ``networkx`` (in memory, the default); ``gremlite:///path/to/store.db`` (an
    embedded Gremlin store on SQLite; ``gremlite://`` alone keeps it in memory);
    ``ws://host:8182/gremlin`` or ``wss://<neptune-endpoint>:8182/gremlin`` (a
    Gremlin server; pass ``neptune_iam=True`` to sign with AWS SigV4, which needs
    ``pip install graphfraud[neptune]``). ``options`` go to the backend
    (``batch_size``, ``page_size``, ``retries``, ...).

    Examples
    --------
    >>> connect("networkx")
    NetworkXBackend('networkx')
    >>> connect("bolt://localhost")
    Traceback (most recent call last):
    ...
    graphfraud.errors.InputError: unknown graph URL 'bolt://localhost': use networkx, gremlite:///path/to/store.db, ws://host:8182/gremlin or wss://host:8182/gremlin
    """
    scheme = url if url in STORES else urlparse(url).scheme if isinstance(url, str) else None
    if scheme in STORES:
        return STORES[scheme](url, **options)
    raise InputError(f"unknown graph URL {url!r}: use networkx, gremlite:///path/to/store.db, "
                     "ws://host:8182/gremlin or wss://host:8182/gremlin")
