DROP TABLE signal_month_counts;
