DROP TABLE quota_reservations;
DROP TABLE quota_usage;
