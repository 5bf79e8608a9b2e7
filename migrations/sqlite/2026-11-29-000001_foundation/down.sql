DROP TABLE settings;
DROP TABLE audit_log;
DROP TABLE login_failures;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE stores;
DROP TABLE areas;
