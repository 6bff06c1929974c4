-- Distribution of IP risk: IPs seen in logins, bucketed by reputation risk_score.
-- param: since = NULL   first timestamp to include (ISO text)
-- param: until = NULL   last timestamp to include (ISO text)
WITH per_ip AS (
    SELECT
        l.ip                      AS ip,
        COUNT(*)                  AS logins,
        SUM(l.result = 'FAIL')    AS fails,
        MAX(r.risk_score)         AS risk_score,
        MAX(r.is_tor)             AS is_tor
    FROM logins AS l
    LEFT JOIN ip_reputation AS r ON r.ip = l.ip
    WHERE l.ip IS NOT NULL
      AND (:since IS NULL OR l.event_ts >= :since)
      AND (:until IS NULL OR l.event_ts <= :until)
    GROUP BY l.ip
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
FROM per_ip
GROUP BY risk_bucket
ORDER BY risk_bucket = 'unknown', risk_bucket;
