-- Back to cities at the top: refused (the CHECK fails) while a province exists.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE areas_without_provinces (
    id TEXT PRIMARY KEY NOT NULL,
    parent_id TEXT REFERENCES areas(id),
    level TEXT NOT NULL CHECK (level IN ('city', 'district', 'town', 'village')),
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO areas_without_provinces (id, parent_id, level, name, path, created_at)
SELECT id, parent_id, level, name, path, created_at FROM areas;
DROP TABLE areas;
ALTER TABLE areas_without_provinces RENAME TO areas;
CREATE INDEX areas_parent ON areas(parent_id);
COMMIT;
PRAGMA foreign_keys = ON;
