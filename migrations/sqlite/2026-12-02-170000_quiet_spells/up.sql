-- Each household's quiet spells (未参与): the stretches of three or more
-- months in which it took no part (earned or redeemed nothing), from the
-- month after it last took part (or the month it was registered) to the
-- month before it took part again, '9999-12' while it has not; last_active
-- is the month it last took part before the spell ('' if never). Kept by
-- the posting that records a household's new month of taking part
-- (ledger::quiet), so that the monthly summary lists the households quiet
-- in a month's last three from these rows instead of every household's
-- months. Filled by the app after migrating (db::migrate).
CREATE TABLE quiet_spells (
    household_id TEXT NOT NULL REFERENCES households(id),
    from_month TEXT NOT NULL,
    to_month TEXT NOT NULL,
    last_active TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (household_id, from_month)
);
-- The spells still running in a month: those that end in it or later.
CREATE INDEX quiet_spells_to ON quiet_spells(to_month, from_month);
