-- Households: ID numbers and phones are stored encrypted (`*_cipher`), with a
-- keyed hash for look-up (`id_lookup`) and the masked form for lists.
CREATE TABLE households (
    id TEXT PRIMARY KEY NOT NULL,
    head_name TEXT NOT NULL,
    id_cipher TEXT NOT NULL,
    id_lookup TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    id_last4 TEXT NOT NULL,
    phone_cipher TEXT NOT NULL DEFAULT '',
    phone_masked TEXT NOT NULL DEFAULT '',
    area_id TEXT NOT NULL REFERENCES areas(id),
    address TEXT NOT NULL DEFAULT '',
    members BIGINT NOT NULL CHECK (members BETWEEN 1 AND 99),
    status TEXT NOT NULL CHECK (status IN ('registered', 'lifted', 'monitored')),
    helper_id TEXT REFERENCES users(id),
    notes TEXT NOT NULL DEFAULT '',
    archived BOOLEAN NOT NULL DEFAULT 0,
    archived_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
-- One active household per ID number.
CREATE UNIQUE INDEX households_active_id ON households(id_lookup) WHERE archived = 0;
CREATE INDEX households_lookup ON households(id_lookup);
CREATE INDEX households_area ON households(area_id);
CREATE INDEX households_name ON households(head_name);
CREATE INDEX households_last4 ON households(id_last4);
CREATE INDEX households_helper ON households(helper_id);

-- Points cards: the current card has no `replaced_by`; a lost card is
-- replaced, never deleted, so its number can say what replaced it.
CREATE TABLE points_cards (
    card_no TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households(id),
    issued_at TIMESTAMP NOT NULL,
    issued_by TEXT NOT NULL DEFAULT '',
    replaced_by TEXT,
    replaced_at TIMESTAMP
);
CREATE UNIQUE INDEX points_cards_current ON points_cards(household_id) WHERE replaced_by IS NULL;

CREATE TABLE household_status_history (
    id TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households(id),
    at TIMESTAMP NOT NULL,
    user_id TEXT,
    username TEXT NOT NULL DEFAULT '',
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX household_status_history_household ON household_status_history(household_id, at);

-- Uploaded files being checked and imported, with their progress.
CREATE TABLE import_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    file_name TEXT NOT NULL,
    file BLOB NOT NULL,
    state TEXT NOT NULL,
    rows_total BIGINT NOT NULL DEFAULT 0,
    rows_done BIGINT NOT NULL DEFAULT 0,
    report TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
