"""Quickstart: from a case file to the accounts an analyst should look at first.

Run:  python examples/quickstart.py [CASE.sqlite | CSV_FOLDER]
(with no argument it uses the sample case bundled with graphfraud)
"""

import sys

import graphfraud

path = sys.argv[1] if len(sys.argv) > 1 else graphfraud.sample_case_path()
case = graphfraud.load_case(path)
print(case.row_counts(), "\n")
print("data quality:", case.data_quality(), "\n")

signals = graphfraud.account_signals(case, window_days=14)
print("highest composite scores:")
print(signals.nlargest(5, "composite").to_string(index=False), "\n")

bursts = graphfraud.detect_bursts(case)
print(f"{len(bursts)} risky-fail -> EC2 burst trigger(s):")
print(bursts.to_string(index=False), "\n")

test = graphfraud.payment_outcome_test(case, bursts["account_id"].unique())
print(f"payment outcomes of burst accounts: {test.bad_flagged}/{test.n_flagged} bad vs "
      f"{test.bad_rest}/{test.n_rest}; {test.method}, p = {test.pvalue:.3g}")
if test.warning:
    print("warning:", test.warning)
