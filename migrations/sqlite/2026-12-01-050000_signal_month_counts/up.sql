-- Running figures of the integrity signals: how many findings each signal
-- had in a past month for an area, kept so that the 12-month sparkline of
-- the signals page does not recompute eleven months of every signal on each
-- view. Filled when a past month is first shown and by the daily job,
-- recomputed when the thresholds they were computed under change
-- (`thresholds` is a fingerprint of them), rebuilt by `aixin signals rebuild`.
CREATE TABLE signal_month_counts (
    month TEXT NOT NULL,
    area_id TEXT NOT NULL REFERENCES areas(id),
    kind TEXT NOT NULL,
    findings BIGINT NOT NULL,
    thresholds TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (month, area_id, kind)
);
