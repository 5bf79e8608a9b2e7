-- API tokens: a login token (name NULL, expires) or a named long-lived one.
-- Only the SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Exactly-once API writes: the first response to a key, per user.
CREATE TABLE api_idempotency (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- The PIN printed on a points card, encrypted with the data key (it is printed again with the card), set
-- when the card is printed.
ALTER TABLE points_cards ADD COLUMN pin_cipher TEXT;

-- Failed card look-ups, per card and per address (every app server sees them).
CREATE TABLE card_failures (
    id TEXT PRIMARY KEY NOT NULL,
    card_no TEXT NOT NULL,
    ip TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX card_failures_card ON card_failures (card_no, at);
CREATE INDEX card_failures_ip ON card_failures (ip, at);
