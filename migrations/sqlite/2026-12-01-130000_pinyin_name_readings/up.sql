-- Names read as names: 长 is cháng (长青, 长安村), and a surname such as
-- 曾 or 单 takes its surname reading. Keys made with the older readings
-- are cleared here; the app fills them again after migrating
-- (db::pinyin::backfill).
UPDATE households SET head_pinyin = '', head_initials = '' WHERE head_name LIKE '%长%' OR head_name LIKE '曾%' OR head_name LIKE '单%' OR head_name LIKE '解%' OR head_name LIKE '区%' OR head_name LIKE '查%' OR head_name LIKE '仇%' OR head_name LIKE '朴%' OR head_name LIKE '覃%' OR head_name LIKE '缪%' OR head_name LIKE '翟%' OR head_name LIKE '盖%' OR head_name LIKE '召%' OR head_name LIKE '乐%' OR head_name LIKE '尉%';
UPDATE items SET name_pinyin = '', name_initials = '' WHERE name LIKE '%长%';
UPDATE donors SET name_pinyin = '', name_initials = '' WHERE name LIKE '%长%';
UPDATE areas SET name_pinyin = '', name_initials = '' WHERE name LIKE '%长%';
