-- The households that redeemed in a month, kept as running counts like the
-- points totals (ledger::redeemer_totals): per household and month, how many
-- of its redemptions of that month still stand (a void made in the same
-- month takes one off, a void in a later month changes nothing), and per
-- village and month, in point_month_totals under the counter kind
-- 'redeemer', how many households have one standing. The month is the
-- scheme's month of the redemption's ledger entry (posted_on); a household
-- that changes village takes its months with it.
CREATE TABLE redeemer_months (
    month TEXT NOT NULL,
    household_id TEXT NOT NULL,
    area_id TEXT NOT NULL,
    standing BIGINT NOT NULL,
    PRIMARY KEY (month, household_id)
);
CREATE INDEX redeemer_months_household ON redeemer_months(household_id);

-- Filled from what is there.
INSERT INTO redeemer_months (month, household_id, area_id, standing)
SELECT to_char(e.posted_on, 'YYYY-MM'), r.household_id, h.area_id, COUNT(*)
  FROM redemptions r JOIN point_entries e ON e.id = r.points_entry_id
  JOIN households h ON h.id = r.household_id
  LEFT JOIN point_entries v ON v.reverses = e.id
 WHERE v.id IS NULL OR to_char(v.posted_on, 'YYYY-MM') <> to_char(e.posted_on, 'YYYY-MM')
 GROUP BY to_char(e.posted_on, 'YYYY-MM'), r.household_id, h.area_id;
INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
SELECT month, area_id, 'redeemer', '', 0, COUNT(*)
  FROM redeemer_months WHERE standing > 0 GROUP BY month, area_id;
