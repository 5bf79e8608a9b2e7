-- Each area's trend figures of each closed month (月结), for every area at
-- every level: points awarded, points redeemed (net of voids) and
-- households taking part, rolled up from its villages' monthly totals when
-- the month is closed (ledger::totals::keep_closings), so that the monthly
-- summary's twelve-month trend reads one row per closed month instead of
-- every village's totals of it. Nothing is dated into a closed month, so
-- they do not change; a reopened month's are forgotten. Filled by the app
-- after migrating (db::migrate) for the months already closed.
CREATE TABLE area_closings (
    area_id TEXT NOT NULL,
    month TEXT NOT NULL,
    awarded BIGINT NOT NULL,
    redeemed BIGINT NOT NULL,
    taking_part BIGINT NOT NULL,
    PRIMARY KEY (area_id, month)
);
