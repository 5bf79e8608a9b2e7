ALTER TABLE donations DROP COLUMN reverse_reason;
ALTER TABLE donations DROP COLUMN reversed_by;
ALTER TABLE donations DROP COLUMN reversed_at;
ALTER TABLE stocktake_lines DROP COLUMN moved;
ALTER TABLE stocktakes DROP COLUMN witnessed_by;
ALTER TABLE stocktakes DROP COLUMN version;
ALTER TABLE stocktakes DROP COLUMN end_seq;
ALTER TABLE stocktakes DROP COLUMN start_seq;
