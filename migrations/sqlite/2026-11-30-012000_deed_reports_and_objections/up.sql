-- A household reports a good deed from its own page (积分申报 by the
-- household), with a note and up to three photos; an official turns the
-- report into a proposed award or declines it with a reason.
CREATE TABLE deed_reports (
    id TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households (id),
    card_no TEXT NOT NULL,
    rule_id TEXT NOT NULL REFERENCES rules (id),
    rule_code TEXT NOT NULL,
    occurred_on DATE NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'awarded', 'declined')),
    decline_reason TEXT NOT NULL DEFAULT '',
    decided_by TEXT REFERENCES users (id),
    decided_at TIMESTAMP,
    award_id TEXT UNIQUE REFERENCES awards (id),
    created_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX deed_reports_household ON deed_reports (household_id, created_at);
CREATE INDEX deed_reports_status ON deed_reports (status, created_at);

-- Photos as stored: decoded, resized and re-encoded as JPEG on the server,
-- so no metadata (EXIF, GPS) of the upload survives.
CREATE TABLE deed_photos (
    id TEXT PRIMARY KEY NOT NULL,
    report_id TEXT NOT NULL REFERENCES deed_reports (id),
    position BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    jpeg BLOB NOT NULL,
    UNIQUE (report_id, position)
);

-- A household's objection to an entry of its village's notice (公示), and
-- the reviewer's decision on it. One objection per household and award.
CREATE TABLE notice_objections (
    id TEXT PRIMARY KEY NOT NULL,
    award_id TEXT NOT NULL REFERENCES awards (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'dismissed')),
    decided_by TEXT REFERENCES users (id),
    decided_at TIMESTAMP,
    decision_note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    UNIQUE (award_id, household_id)
);
CREATE INDEX notice_objections_status ON notice_objections (status, created_at);
