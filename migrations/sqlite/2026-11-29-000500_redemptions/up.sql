-- Redemptions (兑换): a household's points for goods at a store, in one
-- transaction with both ledgers. Lines keep the price read at confirm time.
CREATE TABLE redemptions (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    store_id TEXT NOT NULL REFERENCES stores(id),
    household_id TEXT NOT NULL REFERENCES households(id),
    card_no TEXT NOT NULL,
    clerk_id TEXT REFERENCES users(id),
    clerk_username TEXT NOT NULL DEFAULT '',
    total_points BIGINT NOT NULL CHECK (total_points > 0),
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    status TEXT NOT NULL CHECK (status IN ('completed', 'void')),
    points_entry_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    voided_at TIMESTAMP,
    voided_by TEXT NOT NULL DEFAULT '',
    void_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX redemptions_store ON redemptions(store_id, created_at);
CREATE INDEX redemptions_household ON redemptions(household_id, created_at);

CREATE TABLE redemption_lines (
    id TEXT PRIMARY KEY NOT NULL,
    redemption_id TEXT NOT NULL REFERENCES redemptions(id),
    line_no BIGINT NOT NULL,
    item_id TEXT NOT NULL REFERENCES items(id),
    item_name TEXT NOT NULL,
    unit TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_points BIGINT NOT NULL CHECK (unit_points >= 0),
    points BIGINT NOT NULL CHECK (points >= 0),
    movement_id TEXT NOT NULL,
    UNIQUE (redemption_id, line_no)
);

INSERT INTO counters (name, value) VALUES ('redemption', 0);
