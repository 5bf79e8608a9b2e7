DROP TABLE import_jobs;
DROP TABLE household_status_history;
DROP TABLE points_cards;
DROP TABLE households;
