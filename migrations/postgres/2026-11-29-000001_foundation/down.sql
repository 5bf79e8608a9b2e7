DROP TABLE settings;
DROP TRIGGER audit_log_append_only ON audit_log;
DROP TABLE audit_log;
DROP FUNCTION aixin_append_only();
DROP TABLE login_failures;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE stores;
DROP TABLE areas;
