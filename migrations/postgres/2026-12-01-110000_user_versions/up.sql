-- A user's edit form (display name and assignment) names the version it
-- was opened on: every save bumps it, and a save is one conditional update
-- on (id, version), so two admins editing one account at once never lose
-- an update silently.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
