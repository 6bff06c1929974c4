"""Stage 5, act: what an analyst acts on and hands over.

``stats`` tests whether what was flagged has worse payment outcomes; ``rules``
proposes mitigation rules (as data) with their alert load and precision;
``cases`` opens a case folder per ring; ``report`` writes the analyst's report;
``baselines`` computes the report's baseline metrics (the SQL in ``queries/`` on codes);
``etl`` writes the transaction ETL's tables for a data lake; ``money`` joins the money
side (transactions, micro windows, exposure) to the rings, ``money_report`` reports it.
A new output for people goes here.
"""

from .baselines import baseline_metrics
from .cases import open_case
from .etl import EtlResult, run_etl, write_etl
from .money import MoneySide, money_side
from .report import markdown_table, write_report
from .rules import Rule, load_rules, save_rules
from .stats import PaymentTest, benjamini_hochberg, payment_outcome_test, payment_outcome_tests, wilson_interval

__all__ = ["baseline_metrics", "EtlResult", "run_etl", "write_etl", "MoneySide", "money_side", "open_case", "write_report", "markdown_table", "Rule", "load_rules", "save_rules", "PaymentTest",
           "benjamini_hochberg", "payment_outcome_test", "payment_outcome_tests", "wilson_interval"]
