-- materialized: view
WITH raw(customer_id, first_name) AS (
  VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Edsger')
)
SELECT * FROM raw
