GRANT EXECUTE ON FUNCTION ensure_monthly_partitions(regclass, date, date) TO PUBLIC;
