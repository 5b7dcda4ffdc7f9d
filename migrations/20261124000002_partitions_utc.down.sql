ALTER FUNCTION ensure_monthly_partitions(regclass, date, date) RESET timezone;
