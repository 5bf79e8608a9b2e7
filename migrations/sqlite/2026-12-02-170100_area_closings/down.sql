DROP TABLE area_closings;
