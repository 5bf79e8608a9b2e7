-- Closed months (月结): nothing can be dated into a month listed here.
CREATE TABLE month_closes (
    month TEXT PRIMARY KEY NOT NULL,
    closed_at TIMESTAMP NOT NULL,
    closed_by TEXT NOT NULL REFERENCES users (id)
);
