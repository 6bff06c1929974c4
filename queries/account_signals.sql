-- Per-account signals over [as_of - window_days, as_of] (both ends inclusive), as in the
-- data contract; "history" is every login before the window. Same numbers as
-- graphfraud.account_signals().
-- param: as_of = NULL          end of the window (ISO text); NULL = latest login in the case
-- param: window_days = 14      window length in days
-- param: high_risk = 80        risk_score at or above which an IP is high risk
-- param: w_fail = 0.4          composite weight of failed_login_rate
-- param: w_new_country = 0.3   composite weight of new_country_rate
-- param: w_tor = 0.2           composite weight of (tor_login_count > 0)
-- param: w_high_risk = 0.1     composite weight of high_risk_ip_share
WITH bounds AS (
    SELECT as_of, datetime(as_of, '-' || :window_days || ' days') AS start
    FROM (SELECT COALESCE(:as_of, (SELECT MAX(event_ts) FROM logins)) AS as_of)
),
win AS (
    SELECT l.account_id, l.result, l.mfa_used, l.country_iso, l.device_id, r.risk_score, r.is_tor
    FROM logins AS l
    JOIN bounds AS b ON l.event_ts >= b.start AND l.event_ts <= b.as_of
    LEFT JOIN ip_reputation AS r ON r.ip = l.ip
),
hist AS (
    SELECT l.account_id, l.country_iso, l.device_id
    FROM logins AS l
    JOIN bounds AS b ON l.event_ts < b.start
),
base AS (
    SELECT
        account_id,
        COUNT(*)                                   AS logins,
        AVG(result = 'FAIL')                       AS failed_login_rate,
        AVG(mfa_used = 1)                          AS mfa_rate,
        SUM(COALESCE(is_tor, 0) = 1)               AS tor_login_count,
        COUNT(DISTINCT device_id)                  AS device_count,
        AVG(COALESCE(risk_score >= :high_risk, 0)) AS high_risk_ip_share
    FROM win
    GROUP BY account_id
),
has_history AS (SELECT DISTINCT account_id FROM hist),
win_countries AS (SELECT DISTINCT account_id, country_iso FROM win WHERE country_iso IS NOT NULL),
hist_countries AS (SELECT DISTINCT account_id, country_iso FROM hist WHERE country_iso IS NOT NULL),
countries AS (
    SELECT w.account_id, COUNT(*) AS seen, SUM(h.account_id IS NULL) AS new
    FROM win_countries AS w
    LEFT JOIN hist_countries AS h ON h.account_id = w.account_id AND h.country_iso = w.country_iso
    GROUP BY w.account_id
),
win_devices AS (SELECT DISTINCT account_id, device_id FROM win WHERE device_id IS NOT NULL),
hist_devices AS (SELECT DISTINCT account_id, device_id FROM hist WHERE device_id IS NOT NULL),
devices AS (
    SELECT w.account_id, COUNT(*) AS seen, SUM(h.account_id IS NULL) AS new
    FROM win_devices AS w
    LEFT JOIN hist_devices AS h ON h.account_id = w.account_id AND h.device_id = w.device_id
    GROUP BY w.account_id
),
signals AS (
    SELECT
        b.account_id,
        b.logins,
        b.failed_login_rate,
        CASE WHEN hh.account_id IS NULL THEN 1.0
             WHEN COALESCE(c.seen, 0) = 0 THEN 0.0
             ELSE 1.0 * c.new / c.seen END         AS new_country_rate,
        b.mfa_rate,
        b.tor_login_count,
        b.device_count,
        CASE WHEN hh.account_id IS NULL THEN 1.0
             WHEN COALESCE(d.seen, 0) = 0 THEN 0.0
             ELSE 1.0 * d.new / d.seen END         AS device_churn,
        b.high_risk_ip_share
    FROM base AS b
    LEFT JOIN has_history AS hh ON hh.account_id = b.account_id
    LEFT JOIN countries AS c ON c.account_id = b.account_id
    LEFT JOIN devices AS d ON d.account_id = b.account_id
)
SELECT
    *,
    :w_fail * failed_login_rate
      + :w_new_country * new_country_rate
      + :w_tor * (tor_login_count > 0)
      + :w_high_risk * high_risk_ip_share AS composite
FROM signals
ORDER BY account_id;
