-- What `aixin ledger verify` looks up batch by batch, indexed: without
-- these, each batch of donations and stocktakes scanned the whole stock
-- ledger for its movements, and the search for goods movements without a
-- redemption line scanned every redemption line once per movement (on the
-- 80,000-household city the verify never finished). A redemption line has
-- its own stock movement, never one shared with another line.
CREATE UNIQUE INDEX redemption_lines_movement_once ON redemption_lines (movement_id);
CREATE INDEX stock_movements_donation ON stock_movements (donation_id);
CREATE INDEX stock_movements_stocktake ON stock_movements (stocktake_id);
