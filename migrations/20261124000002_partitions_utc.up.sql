-- Partition bounds are month starts in UTC whatever the session's TimeZone: a session in another
-- zone would otherwise create bounds that overlap or leave gaps next to existing partitions.
ALTER FUNCTION ensure_monthly_partitions(regclass, date, date) SET timezone = 'UTC';
