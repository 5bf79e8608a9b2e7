-- The ledger check finds each entry's reversal by this index: without it,
-- every batch of the check's redemptions scanned the whole ledger for
-- `reverses IN (...)` (seconds per batch on a two-million-entry ledger, an
-- hour for the whole check). Unique, as `stock_movements.reverses_id` is:
-- an entry is reversed at most once (the reversal's idempotency key
-- `reverse:<id>` already made it so).
CREATE UNIQUE INDEX point_entries_reversed_once ON point_entries (reverses);
