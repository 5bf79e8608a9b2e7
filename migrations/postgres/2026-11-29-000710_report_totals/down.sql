DROP INDEX stock_movements_at;
DROP INDEX redemptions_created;
DROP INDEX awards_reviewed;
DROP INDEX awards_proposed;
DROP TABLE report_snapshots;
DROP TABLE household_months;
DROP TABLE point_month_totals;
