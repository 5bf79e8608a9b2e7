-- Stock ledger integrity (issue #16).
-- A stocktake remembers where the stock ledger stood when its count began
-- (start_seq) and when it was posted (end_seq), so that its differences
-- account for every movement in between; a version, bumped by every change
-- to the sheet, lets a confirmation name the sheet the person saw; and who
-- witnessed the count (监盘人).
ALTER TABLE stocktakes ADD COLUMN start_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stocktakes ADD COLUMN end_seq BIGINT;
ALTER TABLE stocktakes ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stocktakes ADD COLUMN witnessed_by TEXT NOT NULL DEFAULT '';
-- What moved on the shelf between the start of the count and its posting,
-- per line (fixed when the stocktake is posted).
ALTER TABLE stocktake_lines ADD COLUMN moved BIGINT NOT NULL DEFAULT 0;
-- Stocktakes from before: the ledger as of their start; the posted ones were
-- posted as counted minus expected, as if nothing had moved.
UPDATE stocktakes SET start_seq = COALESCE(
    (SELECT MAX(m.seq) FROM stock_movements m WHERE m.at <= stocktakes.created_at), 0);
UPDATE stocktakes SET end_seq = start_seq WHERE status = 'posted';
-- A donation booked in by mistake is reversed as a whole.
ALTER TABLE donations ADD COLUMN reversed_at TIMESTAMP;
ALTER TABLE donations ADD COLUMN reversed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE donations ADD COLUMN reverse_reason TEXT NOT NULL DEFAULT '';
