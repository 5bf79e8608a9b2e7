-- The points rulebook (积分细则). A rule keeps its `code` across versions;
-- editing a rule adds a version and retires the old one, so awards keep the
-- version (and the points) they were made under.
CREATE TABLE rule_categories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    position BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE rules (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    category_id TEXT NOT NULL REFERENCES rule_categories(id),
    points BIGINT NOT NULL CHECK (points <> 0),
    cap_count BIGINT CHECK (cap_count IS NULL OR cap_count > 0),
    cap_points BIGINT CHECK (cap_points IS NULL OR cap_points > 0),
    cap_period TEXT CHECK (cap_period IS NULL OR cap_period IN ('day', 'week', 'month', 'year')),
    valid_from DATE,
    valid_to DATE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    superseded_by TEXT,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    UNIQUE (code, version)
);
CREATE UNIQUE INDEX rules_current ON rules(code) WHERE superseded_by IS NULL;

-- Awards (积分申报): proposed by an official, reviewed by someone else.
CREATE TABLE awards (
    id TEXT PRIMARY KEY,
    household_id TEXT NOT NULL REFERENCES households(id),
    rule_id TEXT NOT NULL REFERENCES rules(id),
    rule_code TEXT NOT NULL,
    points BIGINT NOT NULL,
    occurred_on DATE NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'noticed', 'approved', 'rejected', 'withdrawn', 'reversed')),
    batch_id TEXT,
    idempotency_key TEXT UNIQUE,
    proposed_by TEXT NOT NULL REFERENCES users(id),
    proposed_at TIMESTAMP NOT NULL,
    reviewed_by TEXT REFERENCES users(id),
    reviewed_at TIMESTAMP,
    review_note TEXT NOT NULL DEFAULT '',
    notice_until DATE,
    objection TEXT NOT NULL DEFAULT '',
    entry_id TEXT,
    reversed_by TEXT REFERENCES users(id),
    reversed_at TIMESTAMP,
    reverse_reason TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX awards_household ON awards(household_id, rule_code, occurred_on);
CREATE INDEX awards_status ON awards(status, proposed_at);
CREATE INDEX awards_batch ON awards(batch_id);

-- The points ledger: every row a transfer between two accounts, never
-- changed or deleted, each chained to the one before by its hash.
CREATE TABLE point_entries (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at TIMESTAMP NOT NULL,
    posted_on DATE NOT NULL,
    debit TEXT NOT NULL,
    credit TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    kind TEXT NOT NULL,
    ref_kind TEXT NOT NULL DEFAULT '',
    ref_id TEXT NOT NULL DEFAULT '',
    memo TEXT NOT NULL DEFAULT '',
    user_id TEXT,
    idempotency_key TEXT UNIQUE,
    reverses TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    CHECK (debit <> credit)
);
CREATE INDEX point_entries_debit ON point_entries(debit, seq);
CREATE INDEX point_entries_credit ON point_entries(credit, seq);
CREATE INDEX point_entries_posted ON point_entries(posted_on);
CREATE INDEX point_entries_ref ON point_entries(ref_kind, ref_id);
CREATE TRIGGER point_entries_append_only BEFORE UPDATE OR DELETE ON point_entries
FOR EACH ROW EXECUTE FUNCTION aixin_append_only();

-- Cached balances, always equal to the sum of their entries. A household's
-- balance never goes below zero.
CREATE TABLE point_balances (
    account TEXT PRIMARY KEY,
    balance BIGINT NOT NULL DEFAULT 0,
    CHECK (account NOT LIKE 'household:%' OR balance >= 0)
);

-- The head of each hash chain; updating it serialises writers.
CREATE TABLE ledger_heads (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO ledger_heads (name, seq, hash) VALUES ('points', 0, '');

-- Manual adjustments above the threshold wait for a second admin.
CREATE TABLE point_adjustments (
    id TEXT PRIMARY KEY,
    household_id TEXT NOT NULL REFERENCES households(id),
    amount BIGINT NOT NULL CHECK (amount <> 0),
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'posted', 'rejected')),
    requested_by TEXT NOT NULL REFERENCES users(id),
    requested_at TIMESTAMP NOT NULL,
    decided_by TEXT REFERENCES users(id),
    decided_at TIMESTAMP,
    entry_id TEXT,
    idempotency_key TEXT UNIQUE
);

INSERT INTO rule_categories (id, name, position) VALUES
    ('cat-01', '勤劳致富', 1),
    ('cat-02', '孝老爱亲', 2),
    ('cat-03', '环境卫生', 3),
    ('cat-04', '子女教育', 4),
    ('cat-05', '遵纪守法', 5),
    ('cat-06', '志愿服务', 6),
    ('cat-07', '技能培训', 7),
    ('cat-08', '减分项目', 8);
