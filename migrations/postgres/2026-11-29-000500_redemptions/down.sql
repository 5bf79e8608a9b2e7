DELETE FROM counters WHERE name = 'redemption';
DROP TABLE redemption_lines;
DROP TABLE redemptions;
