"""Real-time scoring: the six rules on hand-built profiles, rulesets as data, events, live == frame, the log."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphfraud
from graphfraud.errors import InputError
from graphfraud.realtime import (EventError, Ruleset, Scorer, default_ruleset, events_frame, graph_rules,
                                 load_ruleset, parse_event)
from graphfraud.realtime.decision_log import AlertSink, DecisionLog
from graphfraud.realtime.engine import Engine
from graphfraud.act.rules import Rule


def profiles(**over) -> pd.DataFrame:
    row = {"account_id": "A1", "avg_amount_30d": 100.0, "payment_count_30d": 10, "last_device_id": "d1",
           "last_country": "DE", "signup_ts": "2024-01-01", "risk_level": "LOW"}
    row.update(over)
    return pd.DataFrame([row])


def pay(event_id="e1", account="A1", amount=50.0, device="d1", ts="2025-09-01 12:00:00", **extra) -> dict:
    return {"event_id": event_id, "event_ts": ts, "account_id": account, "event_type": "payment", "amount": amount,
            "device_id": device, **extra}


# --------------------------------------------------------------------------- the six rules, one at a time


@pytest.mark.parametrize("profile, event, rule, decision", [
    ({}, pay(amount=501), "amount over 5x the 30-day mean", "BLOCK"),
    ({"avg_amount_30d": 5000.0}, pay(amount=5001), "amount over 5,000", "REVIEW"),
    ({"signup_ts": "2025-08-28"}, pay(), "account younger than 7 days", "APPROVE"),
    ({}, pay(device="d2"), "device differs from the last one", "APPROVE"),
    ({"payment_count_30d": 51}, pay(), "more than 50 payments in 30 days", "APPROVE"),
    ({"risk_level": "high"}, pay(), "high-risk customer", "REVIEW"),
])
def test_each_default_rule_alone(profile, event, rule, decision):
    d = Scorer.from_profiles(profiles(**profile)).score(event)
    assert d.rules == (rule,)
    assert d.decision == decision
    assert d.score == default_ruleset().points[[r.name for r in default_ruleset().rules].index(rule)]


def test_just_under_every_threshold_approves():
    s = Scorer.from_profiles(profiles(payment_count_30d=50, signup_ts="2025-08-25 12:00:00"))
    d = s.score(pay(amount=500))  # exactly 5x: not above
    assert (d.decision, d.rules, d.score) == ("APPROVE", (), 0.0)


def test_scores_add_up_and_cap_at_100_with_reasons_in_numbers():
    s = Scorer.from_profiles(profiles(risk_level="HIGH"))
    d = s.score(pay(amount=6000, device="d9"))
    assert d.score == 100 and d.decision == "BLOCK"
    assert set(d.rules) == {"amount over 5x the 30-day mean", "amount over 5,000", "device differs from the last one",
                            "high-risk customer"}
    assert "60 > 5 (amount 6,000 USD; 30-day mean 100 USD over 10 payments)" in d.reasons[0]
    assert "(last device d1)" in " ".join(d.reasons)


def test_first_matched_mode_and_thresholds_are_parameters():
    rs = Ruleset(default_ruleset().rules, mode="first", block=90, review=30)
    d = Scorer.from_profiles(profiles(risk_level="HIGH"), rules=rs).score(pay(amount=6000, device="d9"))
    assert d.rules == ("amount over 5x the 30-day mean",) and d.score == 80 and d.decision == "REVIEW"


def test_unknown_account_is_a_new_customer_not_an_error():
    s = Scorer.from_profiles(profiles())
    d = s.score(pay(account="NEVER-SEEN", amount=20))
    assert d.features["new_customer"] and d.features["risk_level"] == "NEW"
    assert d.rules == ("account younger than 7 days",)
    assert math.isnan(d.features["amount_to_avg_30d"])  # no history: the 5x rule is not judged


def test_gateway_aliases_map_to_the_contract_fields():
    e = parse_event({"event_id": "g1", "user_id": "A1", "transaction_amount": "75.5", "ip_address": "203.0.113.9",
                     "location": "fr"})
    assert (e.account_id, e.amount, e.ip, e.country_iso, e.kind) == ("A1", 75.5, "203.0.113.9", "FR", "payment")
    with pytest.raises(EventError, match="both 'account_id' and its alias 'user_id'"):
        parse_event({"event_id": "g2", "account_id": "A1", "user_id": "A2", "amount": 1})


@pytest.mark.parametrize("event, field", [
    ({"account_id": "A1", "amount": 1}, "event_id"),
    ({"event_id": "x", "amount": 1}, "account_id"),
    ({"event_id": "x", "account_id": "A1"}, "amount"),
    ({"event_id": "x", "account_id": "A1", "amount": "NaN"}, "amount"),
    ({"event_id": "x", "account_id": "A1", "amount": 1, "currency": "EURO"}, "currency"),
    ({"event_id": "x", "account_id": "A1", "amount": 1, "event_type": "refund"}, "event_type"),
    ({"event_id": "x", "account_id": "A1", "amount": 1, "event_ts": "yesterday-ish"}, "event_ts"),
    ({"event_id": "x", "account_id": "A1", "amount": 1, "location": "Germany"}, "country_iso"),
    ({"event_id": "x", "account_id": {"id": 1}, "amount": 1}, "account_id"),
])
def test_a_bad_field_is_named(event, field):
    with pytest.raises(EventError) as err:
        parse_event(event)
    assert err.value.field == field and err.value.reason


def test_non_usd_events_convert_at_the_rate_of_their_time_or_are_rejected():
    fx = pd.DataFrame({"currency": ["EUR", "EUR"], "rate_usd": [1.0, 2.0],
                       "valid_from": pd.to_datetime(["2025-08-01", "2025-09-01"])})
    s = Scorer.from_profiles(profiles(), fx_rates=fx)
    assert s.score(pay(amount=100, currency="EUR")).features["amount_usd"] == 200
    with pytest.raises(EventError, match="no USD rate for GBP"):
        s.score(pay(event_id="e2", amount=100, currency="GBP"))


def test_profiles_table_rows_are_used_or_rejected_with_the_reason():
    df = pd.concat([profiles(), profiles(account_id="A2", payment_count_30d=-2), profiles(account_id="A1"),
                    profiles(account_id="A3", risk_level="SUPER")], ignore_index=True)
    s = Scorer.from_profiles(df)
    assert len(s.profiles) == 1 and s.profiles.rejected["row"].tolist() == [1, 2, 3]
    assert "repeats" in s.profiles.rejected["reason"][1] and "risk_level" in s.profiles.rejected["reason"][2]
    with pytest.raises(InputError, match="every row of the profiles table was rejected"):
        Scorer.from_profiles(df.iloc[[1]])
    with pytest.raises(InputError, match=r"lacks column\(s\) \['risk_level'\]"):
        Scorer.from_profiles(profiles().drop(columns="risk_level"))


def test_the_window_slides_and_the_last_device_follows_payments():
    s = Scorer.from_profiles(profiles(avg_amount_30d=0.0, payment_count_30d=0))
    s.score(pay("a", amount=100, device="d2", ts="2025-09-01"))
    d = s.score(pay("b", amount=100, device="d2", ts="2025-09-02"))
    assert d.features["payment_count_30d"] == 1 and not d.features["device_changed"]
    d = s.score(pay("c", amount=100, device="d2", ts="2025-10-01 12:00"))  # "a" is 30.5 days back, "b" 29.5
    assert d.features["payment_count_30d"] == 1


def test_a_late_event_is_scored_not_refused():
    s = Scorer.from_profiles(profiles())
    s.score(pay("a", ts="2025-09-01 12:00:00"))
    assert s.score(pay("b", ts="2025-09-01 11:00:00")).decision == "APPROVE"


# --------------------------------------------------------------------------- rulesets


def test_rules_are_data_and_checked_on_load(tmp_path):
    rs = default_ruleset().with_rules(graph_rules(), name="mine")
    rs.save(tmp_path / "r.json")
    assert load_ruleset(tmp_path / "r.json").version == rs.version
    rs.save(tmp_path / "r.yaml")
    assert load_ruleset(tmp_path / "r.yaml").to_dict() == rs.to_dict()
    bad = {"rules": [{"name": "x", "when": [{"feature": "amount_usd; import os", "op": ">", "value": 1}]}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="unknown feature 'amount_usd; import os'"):
        Scorer.from_profiles(profiles(), rules=tmp_path / "bad.json")
    with pytest.raises(InputError, match="is a number; compare it with a number"):
        Scorer.from_profiles(profiles(), rules=[Rule("s", (("amount", ">", "5000"),))])
    with pytest.raises(InputError, match="condition .* must be"):
        Rule("x", (("amount", "=~", 1),))
    with pytest.raises(InputError, match="review <= block <= cap"):
        Ruleset(default_ruleset().rules, block=40, review=50)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InputError, match="is not valid JSON"):
        load_ruleset(tmp_path / "broken.json")


def test_analyze_rules_json_loads_as_a_ruleset_and_scores(tmp_path, sample_case):
    res = graphfraud.analyze(sample_case, out_dir=tmp_path / "out")
    chosen = json.loads((tmp_path / "out" / "rules.json").read_text())
    assert {r["name"] for r in chosen} == set(res.rules.loc[res.rules["selected"], "rule"])
    rs = load_ruleset(tmp_path / "out" / "rules.json")
    s = Scorer.from_analysis(tmp_path / "out", rules=rs, warm=None)
    ring = res.rings.rings[res.rings.rings["ring_id"].isin(res.rings.flagged["ring_id"])]["account_id"].iloc[0]
    d = s.score(pay(account=ring, ts="2025-09-15 10:00:00"))
    assert "member of a flagged ring" in d.rules and d.decision in ("REVIEW", "BLOCK")
    assert d.features["in_flagged_ring"] and d.features["ring_id"]
    # the default from an analysis: the six rules, the graph-aware rules and the proposed ones
    full = Scorer.from_analysis(tmp_path / "out", warm="6h")
    names = [r.name for r in full.ruleset.rules]
    assert names[:6] == [r.name for r in default_ruleset().rules] and "IP of a flagged ring" in names
    assert set(names) >= {r["name"] for r in chosen}


# --------------------------------------------------------------------------- live == frame == batch micro windows


def _stream(case, since) -> pd.DataFrame:
    p, lg = case.payments, case.logins
    ev = pd.concat([
        pd.DataFrame({"event_id": "p" + pd.Series(range(len(p))).astype(str), "event_ts": p["payment_ts"],
                      "account_id": p["account_id"].astype(str), "event_type": "payment", "amount": p["amount"],
                      "currency": p["currency"].astype(str), "ip": p["ip"].astype(object),
                      "device_id": p["device_id"].astype(object), "country_iso": p["country_iso"].astype(object)}),
        pd.DataFrame({"event_id": "l" + pd.Series(range(len(lg))).astype(str), "event_ts": lg["event_ts"],
                      "account_id": lg["account_id"].astype(str), "event_type": "login", "ip": lg["ip"].astype(object),
                      "device_id": lg["device_id"].astype(object),
                      "country_iso": lg["country_iso"].astype(object)})], ignore_index=True)
    ev = ev[ev["event_ts"] > since].sample(frac=1, random_state=3).reset_index(drop=True)
    return ev


def test_one_by_one_equals_the_frame_and_the_batch_micro_windows(synthetic):
    from graphfraud.detect.micro import METRICS, micro_features

    case = synthetic.case
    def scorer():
        return Scorer.from_case(case, analysis=_analysis_of(case), warm=None)

    ev = _stream(case, case.logins["event_ts"].max() - pd.Timedelta("2D"))
    frame = scorer().score_frame(ev).set_index("event_id")
    live = scorer()
    order = np.argsort(pd.to_datetime(ev["event_ts"]).to_numpy(), kind="stable")
    decided = {}
    for rec in ev.iloc[order].to_dict("records"):
        d = live.score({k: v for k, v in rec.items() if not (isinstance(v, float) and math.isnan(v))})
        decided[d.event_id] = d
    assert len(decided) == len(frame) > 1000
    feats = [c for c in frame.columns if c in next(iter(decided.values())).features]
    for eid, d in decided.items():
        row = frame.loc[eid]
        for c in feats:
            a, b = d.features[c], row[c]
            assert (pd.isna(a) and pd.isna(b)) or a == b, (eid, c, a, b)
        assert (d.score, d.decision, "; ".join(d.rules), "; ".join(d.reasons)) == \
            (row["score"], row["decision"], row["rules"], row["reasons"])
    # and the velocity features are the batch detector's, on the same events in the same order
    srt = ev.iloc[order]
    usd = frame.loc[srt["event_id"], "amount_usd"].to_numpy()
    batch = micro_features(pd.DataFrame({"ts": pd.to_datetime(srt["event_ts"]).to_numpy(),
                                         "account_id": srt["account_id"].to_numpy(), "kind": srt["event_type"].to_numpy(),
                                         "ip": srt["ip"].to_numpy(), "device_id": srt["device_id"].to_numpy(),
                                         "amount_usd": usd}))
    for m in METRICS:
        got = np.asarray([decided[e].features[m.name] for e in srt["event_id"]], dtype=float)
        np.testing.assert_array_equal(got, batch[m.name].to_numpy())
        assert [decided[e].features[m.name + "_spike"] for e in srt["event_id"]] == batch[m.name + "_spike"].tolist()


def _analysis_of(case):
    """The analysis of the synthetic case, once per test session."""
    if not hasattr(_analysis_of, "cache"):
        _analysis_of.cache = graphfraud.analyze(case, out_dir=None)
    return _analysis_of.cache


# --------------------------------------------------------------------------- the frame validator agrees with parse_event

_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["", " ", "USD", "eur", "payment", "LOGIN", "DE", "de1",
                                                          "2025-09-01 12:00", "12.5", "-1", "inf"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({}, optional={k: _values for k in (
    "event_id", "event_ts", "account_id", "user_id", "event_type", "amount", "transaction_amount", "currency",
    "ip", "location", "device_id")}), min_size=1, max_size=6))
def test_frame_validation_matches_one_event_validation(rows):
    now = pd.Timestamp("2025-09-01").value
    expected = []
    for r in rows:
        try:
            parse_event(r, now_ns=now)
            expected.append(None)
        except EventError as exc:
            expected.append(exc.field)
    ev, rej = events_frame(pd.DataFrame(rows), now_ns=now)
    got = [None] * len(rows)
    for r, f in zip(rej["row"], rej["field"]):
        got[r] = f
    assert got == expected
    assert len(ev) + len(rej) == len(rows)


# --------------------------------------------------------------------------- the decision log


def test_a_repeated_event_id_returns_the_stored_decision_and_alerts_once(tmp_path):
    eng = Engine(Scorer.from_profiles(profiles()), DecisionLog(tmp_path / "log.sqlite"),
                 AlertSink(tmp_path / "alerts.jsonl"))
    first = eng.decide(pay(amount=6000))
    again = eng.decide(pay(amount=6000))
    assert not first.duplicate and again.duplicate and again.decision.decision == first.decision.decision == "BLOCK"
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 1
    # the velocity state counted it once
    assert eng.scorer.score(pay("z")).features["account_payments_15min"] == 2
    out = eng.decide_many([pay("k1"), {"event_id": "k2", "account_id": "A1", "amount": "lots"}, pay("k3")])
    assert [o.ok for o in out] == [True, False, True]
    rej = eng.log.rejected()
    assert rej[["event_id", "field"]].values.tolist() == [["k2", "amount"]]
    # stored durably: another connection sees it
    import sqlite3

    assert sqlite3.connect(tmp_path / "log.sqlite").execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 3


def test_alerts_lost_in_a_crash_are_sent_on_the_next_start(tmp_path):
    log = DecisionLog(tmp_path / "log.sqlite")
    eng = Engine(Scorer.from_profiles(profiles()), log, alerts=None)
    eng.decide(pay(amount=6000))  # stored, never alerted (as if the process died before the sink)
    sink = AlertSink(tmp_path / "alerts.jsonl")
    Engine(Scorer.from_profiles(profiles()), DecisionLog(tmp_path / "log.sqlite"), sink)
    assert [json.loads(x)["event_id"] for x in (tmp_path / "alerts.jsonl").read_text().splitlines()] == ["e1"]
    Engine(Scorer.from_profiles(profiles()), DecisionLog(tmp_path / "log.sqlite"), sink)
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 1


def test_the_log_url_is_sqlite_only():
    with pytest.raises(InputError, match="only SQLite"):
        DecisionLog("postgres://db/x")


def test_alerts_reach_a_webhook_and_a_dead_one_is_recorded(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server API)
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = AlertSink(tmp_path / "a.jsonl", webhook=f"http://127.0.0.1:{server.server_port}/hook")
        eng = Engine(Scorer.from_profiles(profiles()), DecisionLog(tmp_path / "l.sqlite"), sink)
        eng.decide(pay(amount=6000))
        eng.decide(pay("e2", amount=20))  # APPROVE: no alert
        sink.flush()
        assert [(g["event_id"], g["alert"]) for g in got] == [("e1", "BLOCK")] and got[0]["reasons"]
    finally:
        server.shutdown()
    dead = AlertSink(tmp_path / "b.jsonl", webhook="http://127.0.0.1:9/nowhere", timeout=0.2)
    dead.send([eng.log.get("e1")])
    dead.flush()
    lines = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert lines[0]["event_id"] == "e1" and "alert_delivery_failed" in lines[1]
    with pytest.raises(InputError, match="webhook must be an http"):
        AlertSink(tmp_path / "c.jsonl", webhook="file:///etc/passwd")


def test_epoch_seconds_as_text_and_an_alias_clash_keeps_the_event_id():
    e = parse_event({"event_id": "q", "user_id": "A", "transaction_amount": "1", "event_ts": "1757930415"})
    assert e.ts == pd.Timestamp(1757930415, unit="s").value
    with pytest.raises(EventError) as err:
        parse_event({"event_id": "e-08", "account_id": "A1", "user_id": "A2", "amount": 1})
    assert (err.value.field, err.value.event_id) == ("user_id", "e-08")
