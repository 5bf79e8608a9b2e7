DROP TABLE village_closings;
