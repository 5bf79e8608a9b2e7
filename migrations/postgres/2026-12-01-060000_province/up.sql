-- A province above the cities: areas nest province > city > district >
-- town > village. Cities already in the database stay at the top until an
-- administrator adds a province and places them under it.
ALTER TABLE areas DROP CONSTRAINT IF EXISTS areas_level_check;
ALTER TABLE areas ADD CONSTRAINT areas_level_check
    CHECK (level IN ('province', 'city', 'district', 'town', 'village'));
