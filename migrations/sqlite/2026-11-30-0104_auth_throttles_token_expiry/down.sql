DROP TABLE auth_throttles;
