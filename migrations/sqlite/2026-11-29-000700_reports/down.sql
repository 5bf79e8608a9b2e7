DROP TABLE month_closes;
