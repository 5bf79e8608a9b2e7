ALTER TABLE items DROP COLUMN version;
ALTER TABLE stores DROP COLUMN version;
ALTER TABLE households DROP COLUMN version;
