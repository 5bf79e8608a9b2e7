-- A staff member's own phone, ID number and home address (all optional),
-- so that the integrity signals can find awards to households related to
-- staff. Kept as the households' are: encrypted with the data key, masked
-- for showing, and the ID number with a keyed hash (the same as the
-- households' id_lookup) for look-up. The home address is a village and
-- the address within it, as a household's.
ALTER TABLE users ADD COLUMN id_cipher TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN id_lookup TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN id_masked TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone_cipher TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone_masked TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN home_area_id TEXT;
ALTER TABLE users ADD COLUMN home_address TEXT NOT NULL DEFAULT '';
-- The signal reads households by these: the month's related households are
-- a handful of index look-ups.
CREATE INDEX households_phone_masked ON households(phone_masked);
CREATE INDEX households_area_address ON households(area_id, address);
