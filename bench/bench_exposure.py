"""Known-bad exposure against what happened next and against the generator's truth, next to simple baselines.

    python bench/bench_exposure.py                                  # 20000 accounts, seed 1
    python bench/bench_exposure.py --accounts 5000 20000 --seeds 1 2 --repeat 3

Cases are generated in-process (``graphfraud.synth.generate_case(n, seed=seed)``). A cut-off
splits each case in two (default: the median security-finding time). What was known at the
cut-off is the seed set: ``known_bad_seeds(case, as_of=cutoff, include_chargebacks=True)``,
i.e. security findings and chargebacks up to the cut-off plus the case's blocklist (listings up
to the cut-off, or undated) when it has one. Everything is scored on the logins up to the
cut-off. Seed accounts are left out of every evaluation.

Outcomes (each a yes/no per account):
  after cut-off      a security finding or a chargeback after the cut-off;
  ring member        the generator's ``truth.accounts.ring_id`` is set;
  compromised        ``truth.accounts.compromised``;
  mule               ``truth.accounts.mule`` (only when the generator writes it).

Scores:
  exposure               ``graphfraud.rings.known_bad.exposure`` with its defaults;
  exposure, no damping   the same with ``hub_power=0`` (plain personalised PageRank);
  -hops                  minus the BFS hops to the nearest seed (unreachable lowest);
  shared with seeds      distinct IPs/devices the account used that a seed account used (or that
                         are seeds), counting only entities of at most 100 accounts / counting all;
  composite risk         ``graphfraud.account_signals(case, as_of=cutoff)["composite"]``.

Metrics: AUC (Mann–Whitney, ties count one half) and precision@100 (with ties at the cut
counted at the tied group's rate, so a score with many equal values is not helped or hurt by
the order of account ids). Accounts with no login up to the cut-off score 0 (and are ranked
last by -hops). Timing: ``exposure()`` given the activity (best of ``--repeat``), and
end-to-end from the case (activity, seeds and exposure).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

import graphfraud
from graphfraud.case.arrays import distinct_rows
from graphfraud.graph.activity import entity_activity
from graphfraud.rings.known_bad import exposure, known_bad_seeds

TOP = 100
HUB = 100


def auc(score: np.ndarray, y: np.ndarray) -> float:
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan")
    r = stats.rankdata(score)
    return float((r[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def precision_at(score: np.ndarray, y: np.ndarray, k: int = TOP) -> float:
    """Precision of the top ``k``, ties at the cut counted at the tied group's positive rate."""
    k = min(k, len(score))
    cut = np.sort(score)[::-1][k - 1]
    above = score > cut
    tied = score == cut
    return float((y[above].sum() + (k - above.sum()) * y[tied].mean()) / k)


def shared_with_seeds(activity, seeds: pd.DataFrame, max_accounts: int | None) -> np.ndarray:
    """Per account code: distinct IPs/devices it shares with a seed account, or that are seeds."""
    acc, ent = distinct_rows(activity.account.astype(np.int64), activity.entity.astype(np.int64))
    pop = np.bincount(ent, minlength=activity.n_entities)
    seed_acc = np.zeros(activity.n_accounts, dtype=bool)
    codes = activity.account_codes(seeds.loc[seeds["kind"] == "account", "value"])
    seed_acc[codes[codes >= 0]] = True
    bad = np.zeros(activity.n_entities, dtype=bool)
    bad[ent[seed_acc[acc]]] = True
    names = (seeds["kind"] + ":" + seeds["value"]).to_numpy(dtype=object)
    bad |= pd.Index(activity.entities).isin(names)
    if max_accounts is not None:
        bad &= pop <= max_accounts
    return np.bincount(acc[bad[ent]], minlength=activity.n_accounts).astype(float)


def run(n: int, seed: int, cutoff, repeat: int) -> None:
    syn = graphfraud.synth.generate_case(n, seed=seed)
    case, truth = syn.case, syn.truth.accounts.set_index("account_id")
    cut = pd.Timestamp(cutoff) if cutoff else case.security_findings["finding_ts"].median()
    t0 = time.perf_counter()
    out = exposure(case, as_of=cut, include_chargebacks=True)
    end_to_end = time.perf_counter() - t0
    seeds = known_bad_seeds(case, as_of=cut, include_chargebacks=True)
    activity = entity_activity(case, until=cut)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        again = exposure(case, seeds, activity=activity, as_of=cut)
        best = min(best, time.perf_counter() - t0)
    pd.testing.assert_frame_equal(out, again)

    seed_accounts = set(seeds.loc[seeds["kind"] == "account", "value"])
    pop = pd.Index(sorted(set(truth.index) - seed_accounts))
    f, p = case.security_findings, case.payments
    later = (set(f.loc[f["finding_ts"] > cut, "account_id"])
             | set(p.loc[(p["status"] == "CHARGEBACK") & (p["payment_ts"] > cut), "account_id"]))
    outcomes = {"after cut-off": pop.isin(list(later)),
                "ring member": truth["ring_id"].notna().reindex(pop).to_numpy(),
                "compromised": truth["compromised"].astype(bool).reindex(pop).to_numpy()}
    if "mule" in truth:
        outcomes["mule"] = truth["mule"].fillna(False).astype(bool).reindex(pop).to_numpy()

    def per_account(values, index) -> np.ndarray:
        return pd.Series(values, index=index).reindex(pop).fillna(0).to_numpy(dtype=float)

    ex = out.set_index("account_id")
    undamped = exposure(case, seeds, activity=activity, as_of=cut, hub_power=0.0).set_index("account_id")
    hops = ex["hops"].astype("float").fillna(np.inf)
    signals = graphfraud.account_signals(case, as_of=cut)
    scores = {
        "exposure": per_account(ex["exposure"].to_numpy(), ex.index),
        "exposure, no hub damping": per_account(undamped["exposure"].to_numpy(), undamped.index),
        "-hops to nearest seed": -pd.Series(hops.to_numpy(), index=ex.index).reindex(pop).fillna(np.inf).to_numpy(),
        f"IPs/devices shared with seeds (<= {HUB} accounts)": per_account(
            shared_with_seeds(activity, seeds, HUB), activity.accounts),
        "IPs/devices shared with seeds (all)": per_account(shared_with_seeds(activity, seeds, None), activity.accounts),
        "composite risk signal": per_account(signals["composite"].to_numpy(), signals["account_id"].to_numpy()),
    }
    by_source = seeds["source"].str.split(":").str[0].value_counts().to_dict()
    print(f"\n## {n:,} accounts, seed {seed}, cut-off {cut}")
    print(f"seeds: {len(seeds):,} rows ({by_source}); {out.attrs['seeds_in_activity']:,} in the graph "
          f"up to the cut-off; {len(pop):,} accounts evaluated; {int(out['hops'].notna().sum()):,} reachable "
          f"(hops <= {int(out['hops'].max()) if out['hops'].notna().any() else 0})")
    print(f"exposure(): {best:.2f} s given the activity ({len(activity):,} rows, {activity.n_accounts:,} accounts, "
          f"{activity.n_entities:,} IPs/devices, {out.attrs['iterations']} iterations); "
          f"{end_to_end:.2f} s end to end from the case")
    header = "| score | " + " | ".join(f"{k} AUC | {k} p@{TOP}" for k in outcomes) + " |"
    print(header)
    print("|" + "---|" * (1 + 2 * len(outcomes)))
    print("| (positives) | " + " | ".join(f"{int(y.sum())} | base {y.mean():.3f}" for y in outcomes.values()) + " |")
    for name, s in scores.items():
        cells = " | ".join(f"{auc(s, y):.3f} | {precision_at(s, y):.2f}" for y in outcomes.values())
        print(f"| {name} | {cells} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, nargs="+", default=[20000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--cutoff", default=None, help="default: the median security-finding time")
    ap.add_argument("--repeat", type=int, default=3, help="runs of exposure(); the fastest counts")
    args = ap.parse_args()
    print("command: python " + " ".join(sys.argv))
    for n in args.accounts:
        for seed in args.seeds:
            run(n, seed, args.cutoff, args.repeat)


if __name__ == "__main__":
    main()
