-- Names found by their sound: the full pinyin (zhangsan) and the initials
-- (zs) of households' heads, goods, donors and areas, written with the name
-- and searched by prefix. NOCASE lets SQLite's LIKE use the indexes. Rows
-- already there are filled in by the migration step that follows this one
-- (db::pinyin::backfill), since SQL cannot read pinyin.
ALTER TABLE households ADD COLUMN head_pinyin TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
ALTER TABLE households ADD COLUMN head_initials TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
ALTER TABLE items ADD COLUMN name_pinyin TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
ALTER TABLE items ADD COLUMN name_initials TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
ALTER TABLE donors ADD COLUMN name_pinyin TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
ALTER TABLE donors ADD COLUMN name_initials TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
ALTER TABLE areas ADD COLUMN name_pinyin TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
ALTER TABLE areas ADD COLUMN name_initials TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
CREATE INDEX households_head_pinyin ON households(head_pinyin);
CREATE INDEX households_head_initials ON households(head_initials);
CREATE INDEX items_name_pinyin ON items(name_pinyin);
CREATE INDEX items_name_initials ON items(name_initials);
CREATE INDEX donors_name_pinyin ON donors(name_pinyin);
CREATE INDEX donors_name_initials ON donors(name_initials);
CREATE INDEX areas_name_pinyin ON areas(name_pinyin);
CREATE INDEX areas_name_initials ON areas(name_initials);
