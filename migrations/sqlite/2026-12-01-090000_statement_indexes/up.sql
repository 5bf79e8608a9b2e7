-- A household's statement read from the index alone: each household's
-- entries lie together, in order, on a few index pages, instead of one
-- table page per entry across the whole ledger. Partial: household
-- accounts only (one side of almost every entry), so each entry is held
-- once more, not twice. The columns are those a statement line shows
-- (ledger::StatementEntry); the chain's hashes and keys are left out.
CREATE INDEX point_entries_household_credit
    ON point_entries (credit, seq, posted_on, debit, amount, kind, ref_kind, ref_id, memo, user_id, id, at)
    WHERE credit LIKE 'household:%';
CREATE INDEX point_entries_household_debit
    ON point_entries (debit, seq, posted_on, credit, amount, kind, ref_kind, ref_id, memo, user_id, id, at)
    WHERE debit LIKE 'household:%';
