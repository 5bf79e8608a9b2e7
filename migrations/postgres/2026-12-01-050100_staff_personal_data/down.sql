DROP INDEX households_area_address;
DROP INDEX households_phone_masked;
ALTER TABLE users DROP COLUMN home_address;
ALTER TABLE users DROP COLUMN home_area_id;
ALTER TABLE users DROP COLUMN phone_masked;
ALTER TABLE users DROP COLUMN phone_cipher;
ALTER TABLE users DROP COLUMN id_masked;
ALTER TABLE users DROP COLUMN id_lookup;
ALTER TABLE users DROP COLUMN id_cipher;
