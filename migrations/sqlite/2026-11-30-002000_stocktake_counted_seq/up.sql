-- Where the stock ledger stood when each line of a stocktake was counted:
-- goods that move after a line is counted are not taken from its count.
ALTER TABLE stocktake_lines ADD COLUMN counted_seq BIGINT;
-- Lines counted before: as if counted when the sheet was posted, or, still
-- open, now (what the confirmation did before).
UPDATE stocktake_lines SET counted_seq = (
    SELECT s.end_seq FROM stocktakes s WHERE s.id = stocktake_lines.stocktake_id)
WHERE counted IS NOT NULL;
