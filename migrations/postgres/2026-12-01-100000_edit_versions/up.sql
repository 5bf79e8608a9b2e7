-- An edit names the version of the record it was made on: every save of
-- the edit form bumps it, and a save is one conditional update on (id,
-- version), so two people editing one household, store or item at once
-- never lose an update silently.
ALTER TABLE households ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE stores ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE items ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
