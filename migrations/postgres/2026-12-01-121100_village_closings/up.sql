-- Each village's points balance at the end of each closed month (月结):
-- the sum of its months in point_month_totals up to and including it,
-- kept when the month is closed (ledger::totals::keep_closings), so that a
-- later month's opening balance is the latest closing before it plus the
-- few months between, instead of the sum of every earlier month. A posting
-- dated into an open month before a closed one adds itself to the closings
-- after it; a reopened month's closings are forgotten.
CREATE TABLE village_closings (
    area_id TEXT NOT NULL,
    month TEXT NOT NULL,
    points BIGINT NOT NULL,
    PRIMARY KEY (area_id, month)
);

-- Filled for the months already closed.
INSERT INTO village_closings (area_id, month, points)
SELECT t.area_id, c.month, SUM(t.points)
  FROM month_closes c JOIN point_month_totals t ON t.month <= c.month
 GROUP BY t.area_id, c.month;
