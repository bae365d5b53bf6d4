-- materialized: table
SELECT c.customer_id,
       c.first_name,
       COUNT(o.order_id)                    AS orders,
       SUM(CASE WHEN o.status = 'completed' THEN o.amount_cents ELSE 0 END) / 100.0 AS revenue
FROM raw_customers AS c
LEFT JOIN raw_orders AS o ON o.customer_id = c.customer_id
GROUP BY c.customer_id, c.first_name
