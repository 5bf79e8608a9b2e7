DROP TABLE job_runs;
ALTER TABLE awards DROP COLUMN settle_error;
ALTER TABLE point_adjustments DROP COLUMN version;
ALTER TABLE awards DROP COLUMN version;
