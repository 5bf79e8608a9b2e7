-- What the reviewer saw is what gets decided: every change to an award or
-- an adjustment bumps its version, and every decision is one conditional
-- update on (id, status, version).
ALTER TABLE awards ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE point_adjustments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
-- Why an award on notice could not be settled (empty when nothing failed),
-- shown where the official, the reviewer and the household's page see it.
ALTER TABLE awards ADD COLUMN settle_error TEXT NOT NULL DEFAULT '';

-- Each scheduled job's last run: when, what it did, and what failed (one
-- line per failure, with the reason).
CREATE TABLE job_runs (
    job TEXT PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    done TEXT NOT NULL DEFAULT '',
    failed TEXT NOT NULL DEFAULT ''
);
