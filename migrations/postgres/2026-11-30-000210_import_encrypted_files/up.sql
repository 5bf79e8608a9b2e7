-- Uploaded files are now kept encrypted with the data key, and only for the
-- hour after their check: files kept in the clear by earlier versions go.
UPDATE import_jobs SET state = 'expired' WHERE state = 'checked';
UPDATE import_jobs SET state = 'failed' WHERE state IN ('checking', 'importing');
UPDATE import_jobs SET file = ''::bytea;
