-- A province above the cities: areas nest province > city > district >
-- town > village. Cities already in the database stay at the top until an
-- administrator adds a province and places them under it.
--
-- SQLite keeps a CHECK in the table's text, so the table is rebuilt (the
-- documented procedure: foreign keys off outside the transaction, a new
-- table, copy, drop, rename, indexes back). Other tables refer to "areas"
-- by name and find the new one.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE areas_with_provinces (
    id TEXT PRIMARY KEY NOT NULL,
    parent_id TEXT REFERENCES areas(id),
    level TEXT NOT NULL CHECK (level IN ('province', 'city', 'district', 'town', 'village')),
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO areas_with_provinces (id, parent_id, level, name, path, created_at)
SELECT id, parent_id, level, name, path, created_at FROM areas;
DROP TABLE areas;
ALTER TABLE areas_with_provinces RENAME TO areas;
CREATE INDEX areas_parent ON areas(parent_id);
COMMIT;
PRAGMA foreign_keys = ON;
