-- Daily failed-login rate: how many login attempts failed each day.
-- param: since = NULL   first timestamp to include (ISO text), NULL for no bound
-- param: until = NULL   last timestamp to include (ISO text), NULL for no bound
SELECT
    date(event_ts)                                AS day,
    COUNT(*)                                      AS logins,
    SUM(result = 'FAIL')                          AS fails,
    1.0 * SUM(result = 'FAIL') / COUNT(*)         AS fail_rate,
    COUNT(DISTINCT account_id)                    AS accounts
FROM logins
WHERE (:since IS NULL OR event_ts >= :since)
  AND (:until IS NULL OR event_ts <= :until)
GROUP BY date(event_ts)
ORDER BY day;
