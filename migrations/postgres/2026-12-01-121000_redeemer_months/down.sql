DELETE FROM point_month_totals WHERE kind = 'redeemer';
DROP TABLE redeemer_months;
