-- IPs with the most failed logins, with their reputation (NULL risk = no reputation row).
-- param: limit = 20     how many IPs to return
-- param: since = NULL   first timestamp to include (ISO text)
-- param: until = NULL   last timestamp to include (ISO text)
SELECT
    l.ip                                                   AS ip,
    SUM(l.result = 'FAIL')                                 AS fails,
    SUM(l.result = 'SUCCESS')                              AS successes,
    COUNT(DISTINCT CASE WHEN l.result = 'FAIL' THEN l.account_id END) AS accounts_failed,
    MIN(CASE WHEN l.result = 'FAIL' THEN l.event_ts END)   AS first_fail,
    MAX(CASE WHEN l.result = 'FAIL' THEN l.event_ts END)   AS last_fail,
    r.risk_score                                           AS risk_score,
    r.asn                                                  AS asn,
    r.is_tor                                               AS is_tor
FROM logins AS l
LEFT JOIN ip_reputation AS r ON r.ip = l.ip
WHERE l.ip IS NOT NULL
  AND (:since IS NULL OR l.event_ts >= :since)
  AND (:until IS NULL OR l.event_ts <= :until)
GROUP BY l.ip
HAVING SUM(l.result = 'FAIL') > 0
ORDER BY fails DESC, accounts_failed DESC, ip
LIMIT :limit;
