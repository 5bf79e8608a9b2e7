-- One table for exactly-once, page forms and API writes alike. An API key
-- becomes 'api:<user id>:<key>' (unique per user, as before) in scope 'api';
-- its stored answer is '<status> <JSON body>'.
INSERT INTO idempotency_keys (key, scope, user_id, request_hash, result, created_at)
SELECT 'api:' || user_id || ':' || key, 'api', user_id, fingerprint,
       CAST(status AS TEXT) || ' ' || body, created_at
FROM api_idempotency;
DROP TABLE api_idempotency;
-- Housekeeping forgets old API answers by scope and age.
CREATE INDEX idempotency_keys_scope_created ON idempotency_keys (scope, created_at);
