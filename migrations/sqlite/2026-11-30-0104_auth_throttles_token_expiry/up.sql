-- Failed-attempt counters, one row per key (an account at an address, an
-- address, a card at an address, ...). Counting and deciding is one
-- conditional upsert, so parallel attempts on any number of servers cannot
-- get past the limit.
CREATE TABLE auth_throttles (
    key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    window_start TIMESTAMP NOT NULL
);
CREATE INDEX auth_throttles_window ON auth_throttles (window_start);

-- Every API token ends: named tokens made before expiries last 90 days
-- from their making.
UPDATE api_tokens SET expires_at = datetime(created_at, '+90 days') WHERE expires_at IS NULL;
