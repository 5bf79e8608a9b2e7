-- Running totals for the monthly summary's goods and redemptions sections,
-- kept by stock::post and redemptions::redeem in the posting's transaction
-- (ledger::goods_totals, ledger::redemption_totals), checked by
-- `aixin ledger verify` and made again by `aixin ledger rebuild-totals`.
-- Months are the UTC months of the rows' times ('YYYY-MM'); a summary adds
-- the few hours between a UTC month and the scheme's month from the rows.

-- Units moved onto (direction 1) or off (-1) a store's shelf, per item and
-- movement kind.
CREATE TABLE stock_month_totals (
    month TEXT NOT NULL,
    store_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    direction BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    movements BIGINT NOT NULL,
    PRIMARY KEY (month, store_id, item_id, kind, direction)
);

-- Redemptions made, by the household's village: per store (item_id '':
-- how many, points) and per item (store_id '': units, points). Voids are
-- read from the redemptions themselves (few, and indexed).
CREATE TABLE redemption_month_totals (
    month TEXT NOT NULL,
    area_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_name TEXT NOT NULL,
    redemptions BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    points BIGINT NOT NULL,
    PRIMARY KEY (month, area_id, store_id, item_id, item_name)
);

-- Filled from what is there.
INSERT INTO stock_month_totals (month, store_id, item_id, kind, direction, quantity, movements)
SELECT to_char(at, 'YYYY-MM'), to_store_id, item_id, kind, 1, SUM(quantity), COUNT(*)
  FROM stock_movements WHERE to_store_id IS NOT NULL
 GROUP BY to_char(at, 'YYYY-MM'), to_store_id, item_id, kind;
INSERT INTO stock_month_totals (month, store_id, item_id, kind, direction, quantity, movements)
SELECT to_char(at, 'YYYY-MM'), from_store_id, item_id, kind, -1, SUM(quantity), COUNT(*)
  FROM stock_movements WHERE from_store_id IS NOT NULL
 GROUP BY to_char(at, 'YYYY-MM'), from_store_id, item_id, kind;
INSERT INTO redemption_month_totals (month, area_id, store_id, item_id, item_name, redemptions, quantity, points)
SELECT to_char(r.created_at, 'YYYY-MM'), h.area_id, r.store_id, '', '', COUNT(*), 0, SUM(r.total_points)
  FROM redemptions r JOIN households h ON h.id = r.household_id
 GROUP BY to_char(r.created_at, 'YYYY-MM'), h.area_id, r.store_id;
INSERT INTO redemption_month_totals (month, area_id, store_id, item_id, item_name, redemptions, quantity, points)
SELECT to_char(r.created_at, 'YYYY-MM'), h.area_id, '', l.item_id, l.item_name, 0, SUM(l.quantity), SUM(l.points)
  FROM redemption_lines l JOIN redemptions r ON r.id = l.redemption_id
  JOIN households h ON h.id = r.household_id
 GROUP BY to_char(r.created_at, 'YYYY-MM'), h.area_id, l.item_id, l.item_name;
