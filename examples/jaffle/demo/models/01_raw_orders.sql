-- materialized: view
WITH raw(order_id, customer_id, ordered_at, status, amount_cents) AS (
  VALUES
    (1, 1, '2026-01-01', 'completed', 1200),
    (2, 2, '2026-01-02', 'completed', 800),
    (3, 1, '2026-01-03', 'returned', 450),
    (4, 3, '2026-01-04', 'placed', 2300)
)
SELECT * FROM raw
