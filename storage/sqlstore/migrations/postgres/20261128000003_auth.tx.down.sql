DROP TABLE login_attempts;
DROP TABLE api_keys;
DROP TABLE registration_codes;
DROP TABLE sessions;
DROP TABLE password_history;
DROP TABLE users;
