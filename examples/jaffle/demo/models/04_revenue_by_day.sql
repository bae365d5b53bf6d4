-- materialized: table
SELECT ordered_at AS day, SUM(amount_cents) / 100.0 AS revenue
FROM raw_orders
WHERE status = 'completed'
GROUP BY ordered_at
ORDER BY ordered_at
