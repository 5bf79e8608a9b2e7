-- The monthly totals are read by ranges of months (a whole city's opening
-- balance sums every month before the one shown): kept in the order of their
-- key, a range is read straight from the table instead of row by row
-- through the key's index.
CREATE TABLE point_month_totals_by_key (
    month TEXT NOT NULL,
    area_id TEXT NOT NULL REFERENCES areas(id),
    kind TEXT NOT NULL,
    category_id TEXT NOT NULL DEFAULT '',
    points BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    PRIMARY KEY (month, area_id, kind, category_id)
) WITHOUT ROWID;
INSERT INTO point_month_totals_by_key (month, area_id, kind, category_id, points, entries)
SELECT month, area_id, kind, category_id, points, entries FROM point_month_totals;
DROP TABLE point_month_totals;
ALTER TABLE point_month_totals_by_key RENAME TO point_month_totals;

-- Households registered in a month.
CREATE INDEX households_created ON households(created_at);
