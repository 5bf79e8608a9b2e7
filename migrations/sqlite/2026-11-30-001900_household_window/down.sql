ALTER TABLE households DROP COLUMN honour_opt_out;
DROP TABLE household_sessions;
