-- Back to cities at the top: refused (the CHECK fails) while a province exists.
ALTER TABLE areas DROP CONSTRAINT IF EXISTS areas_level_check;
ALTER TABLE areas ADD CONSTRAINT areas_level_check
    CHECK (level IN ('city', 'district', 'town', 'village'));
