-- Distribution of IP risk: IPs seen in logins, bucketed by reputation risk_score.
-- param: since = NULL   first timestamp to include (ISO text)
-- param: until = NULL   last timestamp to include (ISO text)
WITH per_ip AS (   -- aggregate logins per IP first, then look each IP up once
    SELECT ip, COUNT(*) AS logins, SUM(result = 'FAIL') AS fails
    FROM logins
    WHERE ip IS NOT NULL
      AND (:since IS NULL OR event_ts >= :since)
      AND (:until IS NULL OR event_ts <= :until)
    GROUP BY ip
),
-- MATERIALIZED lets SQLite index the lookup even on a read-only case file without indexes
rep AS MATERIALIZED (SELECT ip, risk_score, is_tor FROM ip_reputation),
rated AS (
    SELECT p.logins, p.fails, r.risk_score, r.is_tor
    FROM per_ip AS p
    LEFT JOIN rep AS r ON r.ip = p.ip
)
SELECT
    CASE
        WHEN risk_score IS NULL THEN 'unknown'
        WHEN risk_score < 20 THEN '00-19'
        WHEN risk_score < 40 THEN '20-39'
        WHEN risk_score < 60 THEN '40-59'
        WHEN risk_score < 80 THEN '60-79'
        ELSE '80-100'
    END                                   AS risk_bucket,
    COUNT(*)                              AS ips,
    SUM(COALESCE(is_tor, 0) = 1)          AS tor_ips,
    SUM(logins)                           AS logins,
    SUM(fails)                            AS fails,
    1.0 * SUM(fails) / SUM(logins)        AS fail_rate
FROM rated
GROUP BY risk_bucket
ORDER BY risk_bucket = 'unknown', risk_bucket;
