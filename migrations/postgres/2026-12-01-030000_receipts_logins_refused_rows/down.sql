ALTER TABLE import_jobs DROP COLUMN refused_rows;
ALTER TABLE users DROP COLUMN last_login_at;
ALTER TABLE stores DROP COLUMN print_after_confirm;
ALTER TABLE stores DROP COLUMN receipt_paper;
ALTER TABLE stores DROP COLUMN phone;
