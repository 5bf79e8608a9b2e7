-- An import may skip the rows whose ID number is already registered (a
-- fixed file loaded again after an import): counted, neither refused nor
-- changed. Off for the jobs made before.
ALTER TABLE import_jobs ADD COLUMN skip_registered BOOLEAN NOT NULL DEFAULT 0;
