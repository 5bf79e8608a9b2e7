-- What a receipt prints about its store, and how each store prints:
-- its paper (58 mm or 80 mm thermal roll, or A4) and whether the receipt
-- prints by itself once a redemption is confirmed.
ALTER TABLE stores ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE stores ADD COLUMN receipt_paper TEXT NOT NULL DEFAULT '80' CHECK (receipt_paper IN ('58', '80', 'a4'));
ALTER TABLE stores ADD COLUMN print_after_confirm BOOLEAN NOT NULL DEFAULT 0;
-- When each user last logged in (shown in the users list).
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMP;
-- An import's refused rows as they were typed, with their reasons (kept
-- encrypted, like the uploaded file, until it is purged): a file to fix
-- and load again.
ALTER TABLE import_jobs ADD COLUMN refused_rows BLOB NOT NULL DEFAULT X'';
