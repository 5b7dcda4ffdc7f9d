ALTER FUNCTION ensure_monthly_partitions(regclass, date, date) SECURITY INVOKER;
ALTER FUNCTION ensure_monthly_partitions(regclass, date, date) RESET search_path;
