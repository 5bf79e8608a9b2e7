-- Names found by their sound: the full pinyin (zhangsan) and the initials
-- (zs) of households' heads, goods, donors and areas, written with the name
-- (lower case) and searched by prefix; text_pattern_ops lets LIKE 'zs%' use
-- the indexes. Rows already there are filled in by the migration step that
-- follows this one (db::pinyin::backfill), since SQL cannot read pinyin.
ALTER TABLE households ADD COLUMN head_pinyin TEXT NOT NULL DEFAULT '';
ALTER TABLE households ADD COLUMN head_initials TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN name_pinyin TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN name_initials TEXT NOT NULL DEFAULT '';
ALTER TABLE donors ADD COLUMN name_pinyin TEXT NOT NULL DEFAULT '';
ALTER TABLE donors ADD COLUMN name_initials TEXT NOT NULL DEFAULT '';
ALTER TABLE areas ADD COLUMN name_pinyin TEXT NOT NULL DEFAULT '';
ALTER TABLE areas ADD COLUMN name_initials TEXT NOT NULL DEFAULT '';
CREATE INDEX households_head_pinyin ON households(head_pinyin text_pattern_ops);
CREATE INDEX households_head_initials ON households(head_initials text_pattern_ops);
CREATE INDEX items_name_pinyin ON items(name_pinyin text_pattern_ops);
CREATE INDEX items_name_initials ON items(name_initials text_pattern_ops);
CREATE INDEX donors_name_pinyin ON donors(name_pinyin text_pattern_ops);
CREATE INDEX donors_name_initials ON donors(name_initials text_pattern_ops);
CREATE INDEX areas_name_pinyin ON areas(name_pinyin text_pattern_ops);
CREATE INDEX areas_name_initials ON areas(name_initials text_pattern_ops);
