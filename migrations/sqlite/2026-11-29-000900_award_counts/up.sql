-- The monthly totals also count awards: proposed in the month, and approved
-- or rejected in it, in the household's village. Kept by proposing and
-- reviewing from now on; here, what was done before, by the month in the
-- scheme's usual time zone (China Standard Time, UTC+8). A scheme set to
-- another zone gets its months cut right by `aixin ledger rebuild-totals`.
INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
SELECT strftime('%Y-%m', datetime(aw.proposed_at, '+8 hours')), h.area_id, 'proposed', '', 0, COUNT(*)
  FROM awards aw JOIN households h ON h.id = aw.household_id
 GROUP BY 1, 2;

INSERT INTO point_month_totals (month, area_id, kind, category_id, points, entries)
SELECT strftime('%Y-%m', datetime(aw.reviewed_at, '+8 hours')), h.area_id,
       CASE WHEN aw.status = 'rejected' THEN 'rejected' ELSE 'approved' END, '', 0, COUNT(*)
  FROM awards aw JOIN households h ON h.id = aw.household_id
 WHERE aw.reviewed_at IS NOT NULL AND aw.status IN ('approved', 'noticed', 'rejected', 'reversed')
 GROUP BY 1, 2, 3;
