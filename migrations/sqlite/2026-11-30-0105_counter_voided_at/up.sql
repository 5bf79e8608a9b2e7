-- Voids count on the day and in the month they are made: the end of day
-- and the monthly summary read a period's voids by when they were made.
CREATE INDEX redemptions_voided ON redemptions(voided_at) WHERE voided_at IS NOT NULL;
