DROP TABLE point_adjustments;
DROP TABLE ledger_heads;
DROP TABLE point_balances;
DROP TABLE point_entries;
DROP TABLE awards;
DROP TABLE rules;
DROP TABLE rule_categories;
