-- The deleted files cannot come back; nothing to undo.
SELECT 1;
