-- An auditor's "looked into" mark on a signal's finding: one per month,
-- signal and subject (the unique key is the guard: a second mark is refused).
CREATE TABLE signal_marks (
    id TEXT PRIMARY KEY NOT NULL,
    month TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    note TEXT NOT NULL,
    marked_by TEXT NOT NULL REFERENCES users(id),
    marked_at TIMESTAMP NOT NULL,
    UNIQUE (month, kind, subject)
);
-- The signal of households earning every month reads awards by the date of the deed.
CREATE INDEX awards_occurred ON awards(occurred_on);
