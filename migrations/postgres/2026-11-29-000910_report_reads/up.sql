-- Households registered in a month. (SQLite also stores the monthly totals
-- in key order here; PostgreSQL reads their key ranges from the index.)
CREATE INDEX households_created ON households(created_at);
