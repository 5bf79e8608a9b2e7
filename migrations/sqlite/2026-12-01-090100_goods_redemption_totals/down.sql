DROP TABLE redemption_month_totals;
DROP TABLE stock_month_totals;
