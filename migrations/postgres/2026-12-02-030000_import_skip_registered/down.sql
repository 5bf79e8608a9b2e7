ALTER TABLE import_jobs DROP COLUMN skip_registered;
