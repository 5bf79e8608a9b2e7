-- Goods, donors, donations and the stock ledger.

-- The goods catalogue, shared by the city. Prices are read when used; nothing
-- stored elsewhere copies them, so a price change never rewrites the past.
CREATE TABLE items (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL,
    points_price BIGINT NOT NULL CHECK (points_price >= 0),
    barcode TEXT UNIQUE,
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- What a store sets for an item: its own price (optional) and when it is low.
CREATE TABLE store_items (
    store_id TEXT NOT NULL REFERENCES stores(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    points_price BIGINT CHECK (points_price IS NULL OR points_price >= 0),
    low_threshold BIGINT NOT NULL DEFAULT 0 CHECK (low_threshold >= 0),
    PRIMARY KEY (store_id, item_id)
);

CREATE TABLE donors (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('enterprise', 'public_unit', 'social_org', 'individual', 'anonymous')),
    contact_person TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX donors_name ON donors(name);

-- Numbered series (donations, stocktakes): one row each, bumped in the
-- transaction that uses the number.
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('donation', 0), ('stocktake', 0);

CREATE TABLE donations (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    donor_id TEXT NOT NULL REFERENCES donors(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    donated_on DATE NOT NULL,
    money_fen BIGINT NOT NULL DEFAULT 0 CHECK (money_fen >= 0),
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX donations_donor ON donations(donor_id, donated_on);
CREATE INDEX donations_store ON donations(store_id, donated_on);

CREATE TABLE donation_lines (
    id TEXT PRIMARY KEY NOT NULL,
    donation_id TEXT NOT NULL REFERENCES donations(id),
    line_no INTEGER NOT NULL,
    item_id TEXT NOT NULL REFERENCES items(id),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    value_fen BIGINT NOT NULL CHECK (value_fen >= 0),
    UNIQUE (donation_id, line_no)
);

CREATE TABLE stocktakes (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    store_id TEXT NOT NULL REFERENCES stores(id),
    status TEXT NOT NULL CHECK (status IN ('open', 'posted')),
    show_expected BOOLEAN NOT NULL,
    started_by TEXT NOT NULL DEFAULT '',
    counted_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    posted_at TIMESTAMP
);
CREATE INDEX stocktakes_store ON stocktakes(store_id, created_at);

CREATE TABLE stocktake_lines (
    stocktake_id TEXT NOT NULL REFERENCES stocktakes(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    expected BIGINT NOT NULL CHECK (expected >= 0),
    counted BIGINT CHECK (counted IS NULL OR counted >= 0),
    PRIMARY KEY (stocktake_id, item_id)
);

-- The stock ledger: every movement of goods is one transfer of `quantity`
-- units of an item from one account to another (double entry: it sums to
-- zero). Accounts: 'shelf:<store>', 'donor:<donor>', 'purchase', 'redeemed',
-- 'written_off', 'counted'. Rows are chained by hash and never change.
CREATE TABLE stock_movements (
    id TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL UNIQUE,
    at TIMESTAMP NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('donation', 'purchase', 'redemption', 'move', 'adjustment', 'write_off', 'reversal')),
    item_id TEXT NOT NULL REFERENCES items(id),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    from_account TEXT NOT NULL,
    to_account TEXT NOT NULL,
    from_store_id TEXT REFERENCES stores(id),
    to_store_id TEXT REFERENCES stores(id),
    donation_id TEXT REFERENCES donations(id),
    stocktake_id TEXT REFERENCES stocktakes(id),
    reverses_id TEXT UNIQUE REFERENCES stock_movements(id),
    reason TEXT NOT NULL DEFAULT '',
    user_id TEXT,
    username TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    CHECK (from_account <> to_account)
);
CREATE INDEX stock_movements_from_store ON stock_movements(from_store_id, at);
CREATE INDEX stock_movements_to_store ON stock_movements(to_store_id, at);
CREATE INDEX stock_movements_item ON stock_movements(item_id, at);
CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements
BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END;
CREATE TRIGGER stock_movements_no_delete BEFORE DELETE ON stock_movements
BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END;

-- The end of the chain: one row, updated by every writer first, so that
-- writers take turns and each row links to the one before it.
CREATE TABLE stock_chain_head (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO stock_chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Stock on hand, cached from the ledger; lowered only by a conditional update.
CREATE TABLE stock (
    store_id TEXT NOT NULL REFERENCES stores(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    quantity BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (store_id, item_id)
);

-- Exactly-once forms: a key issued with the form, stored with the result of
-- its first use.
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY NOT NULL,
    scope TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
