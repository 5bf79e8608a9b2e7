-- The keys stay as they are: the older readings are not made again.
SELECT 1;
