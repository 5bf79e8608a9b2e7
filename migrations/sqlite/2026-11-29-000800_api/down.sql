DROP TABLE card_failures;
ALTER TABLE points_cards DROP COLUMN pin_cipher;
DROP TABLE api_idempotency;
DROP TABLE api_tokens;
