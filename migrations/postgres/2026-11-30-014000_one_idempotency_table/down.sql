DROP INDEX idempotency_keys_scope_created;
CREATE TABLE api_idempotency (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);
INSERT INTO api_idempotency (user_id, key, fingerprint, status, body, created_at)
SELECT user_id, substr(key, length('api:' || user_id || ':') + 1), request_hash,
       CAST(split_part(result, ' ', 1) AS BIGINT),
       substr(result, strpos(result, ' ') + 1), created_at
FROM idempotency_keys WHERE scope = 'api';
DELETE FROM idempotency_keys WHERE scope = 'api';
