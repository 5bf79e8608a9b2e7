DELETE FROM point_month_totals WHERE kind IN ('proposed', 'approved', 'rejected');
