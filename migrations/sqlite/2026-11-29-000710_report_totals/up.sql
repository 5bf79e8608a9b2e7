-- Monthly totals of the points ledger per village, kept by the posting that
-- writes each entry (same transaction), so that a month's summary for a
-- whole city reads a few thousand rows instead of the ledger. A household's
-- points count in the village it belonged to when they were posted; moving
-- to another village carries its balance over as move_out / move_in.
CREATE TABLE point_month_totals (
    month TEXT NOT NULL,
    area_id TEXT NOT NULL REFERENCES areas(id),
    kind TEXT NOT NULL,
    category_id TEXT NOT NULL DEFAULT '',
    points BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    PRIMARY KEY (month, area_id, kind, category_id)
);

-- The months in which a household took part (earned or redeemed), and the
-- village it belonged to then.
CREATE TABLE household_months (
    month TEXT NOT NULL,
    household_id TEXT NOT NULL REFERENCES households(id),
    area_id TEXT NOT NULL REFERENCES areas(id),
    PRIMARY KEY (month, household_id)
);
CREATE INDEX household_months_household ON household_months(household_id, month);
CREATE INDEX household_months_area ON household_months(month, area_id);

-- The summary of a closed month as it was first shown after the close:
-- printed again, it shows the same numbers. Reopening the month drops it.
CREATE TABLE report_snapshots (
    month TEXT NOT NULL,
    scope TEXT NOT NULL,
    body TEXT NOT NULL,
    made_at TIMESTAMP NOT NULL,
    PRIMARY KEY (month, scope)
);

CREATE INDEX awards_proposed ON awards(proposed_at);
CREATE INDEX awards_reviewed ON awards(reviewed_at);
CREATE INDEX redemptions_created ON redemptions(created_at);
CREATE INDEX stock_movements_at ON stock_movements(at);

-- What was posted before these tables existed.
INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
SELECT strftime('%Y-%m', x.posted_on), h.area_id, x.kind,
       COALESCE(CASE WHEN x.kind = 'award' THEN
           (SELECT r.category_id FROM awards aw JOIN rules r ON r.id = aw.rule_id WHERE aw.id = x.ref_id)
       END, ''),
       SUM(x.signed), COUNT(*)
  FROM (SELECT posted_on, kind, ref_id, amount AS signed, credit AS acct FROM point_entries WHERE credit LIKE 'household:%'
        UNION ALL
        SELECT posted_on, kind, ref_id, -amount, debit FROM point_entries WHERE debit LIKE 'household:%') x
  JOIN households h ON h.id = SUBSTR(x.acct, 11)
 GROUP BY 1, 2, 3, 4;

INSERT INTO household_months (month, household_id, area_id)
SELECT DISTINCT strftime('%Y-%m', x.posted_on), h.id, h.area_id
  FROM (SELECT posted_on, credit AS acct FROM point_entries WHERE credit LIKE 'household:%' AND kind = 'award'
        UNION ALL
        SELECT posted_on, debit FROM point_entries WHERE debit LIKE 'household:%' AND kind = 'redemption') x
  JOIN households h ON h.id = SUBSTR(x.acct, 11);

INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
SELECT month, area_id, 'participant', '', 0, COUNT(*) FROM household_months GROUP BY month, area_id;

INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
SELECT hm.month, hm.area_id, 'first_time', '', 0, COUNT(*)
  FROM household_months hm
 WHERE NOT EXISTS (SELECT 1 FROM household_months p WHERE p.household_id = hm.household_id AND p.month < hm.month)
 GROUP BY hm.month, hm.area_id;
