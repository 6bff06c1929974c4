"""Time and peak memory of the ring step alone on a case file, in this fresh process.

    python bench/ring_step.py bench/out/case_100000.sqlite

Loads the case, computes signals and bursts (not timed), then times
``find_rings(case, signals=..., bursts=...)`` and prints one JSON line: logins,
seconds, peak RSS before and during the step, tests, co-occurring row pairs, passes
and flagged rings.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import graphfraud


def main(path: str) -> None:
    case = graphfraud.load_case(path)
    signals, bursts = graphfraud.account_signals(case), graphfraud.detect_bursts(case)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    res = graphfraud.find_rings(case, signals=signals, bursts=bursts)
    secs = time.perf_counter() - t0
    print(json.dumps({"logins": len(case.logins), "rings_s": round(secs, 1), "peak_before_mb": round(before),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "tests": res.params["tests"], "row_pairs": res.params["row_pairs"],
                      "passes": res.params["passes"], "flagged": int(res.summary["flagged"].sum())}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
