DROP INDEX households_created;
