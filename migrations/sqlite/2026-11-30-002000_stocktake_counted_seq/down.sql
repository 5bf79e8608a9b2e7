ALTER TABLE stocktake_lines DROP COLUMN counted_seq;
