DROP INDEX awards_occurred;
DROP TABLE signal_marks;
