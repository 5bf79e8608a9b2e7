DROP INDEX households_created;

CREATE TABLE point_month_totals_with_rowid (
    month TEXT NOT NULL,
    area_id TEXT NOT NULL REFERENCES areas(id),
    kind TEXT NOT NULL,
    category_id TEXT NOT NULL DEFAULT '',
    points BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    PRIMARY KEY (month, area_id, kind, category_id)
);
INSERT INTO point_month_totals_with_rowid (month, area_id, kind, category_id, points, entries)
SELECT month, area_id, kind, category_id, points, entries FROM point_month_totals;
DROP TABLE point_month_totals;
ALTER TABLE point_month_totals_with_rowid RENAME TO point_month_totals;
