-- The households' own window: a short session opened with the card number
-- and its PIN. Only the SHA-256 of the session's secret is kept.
CREATE TABLE household_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households (id),
    card_no TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX household_sessions_expiry ON household_sessions (expires_at);

-- A household may ask not to be named on the honour roll (红榜).
ALTER TABLE households ADD COLUMN honour_opt_out BOOLEAN NOT NULL DEFAULT FALSE;
