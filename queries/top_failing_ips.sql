-- IPs with the most failed logins, with their reputation (NULL risk = no reputation row).
-- param: limit = 20     how many IPs to return
-- param: since = NULL   first timestamp to include (ISO text)
-- param: until = NULL   last timestamp to include (ISO text)
WITH top_ips AS (   -- rank on failures alone: failures are a small share of all logins
    SELECT
        ip,
        COUNT(*)                   AS fails,
        COUNT(DISTINCT account_id) AS accounts_failed,
        MIN(event_ts)              AS first_fail,
        MAX(event_ts)              AS last_fail
    FROM logins
    WHERE result = 'FAIL' AND ip IS NOT NULL
      AND (:since IS NULL OR event_ts >= :since)
      AND (:until IS NULL OR event_ts <= :until)
    GROUP BY ip
    ORDER BY fails DESC, accounts_failed DESC, ip
    LIMIT :limit
),
successes AS (
    SELECT ip, COUNT(*) AS successes
    FROM logins
    WHERE result = 'SUCCESS' AND ip IN (SELECT ip FROM top_ips)
      AND (:since IS NULL OR event_ts >= :since)
      AND (:until IS NULL OR event_ts <= :until)
    GROUP BY ip
)
SELECT
    t.ip,
    t.fails,
    COALESCE(s.successes, 0) AS successes,
    t.accounts_failed,
    t.first_fail,
    t.last_fail,
    r.risk_score,
    r.asn,
    r.is_tor
FROM top_ips AS t
LEFT JOIN successes AS s ON s.ip = t.ip
LEFT JOIN ip_reputation AS r ON r.ip = t.ip
ORDER BY t.fails DESC, t.accounts_failed DESC, t.ip;
