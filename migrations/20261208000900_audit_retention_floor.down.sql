CREATE OR REPLACE FUNCTION audit_partitions_due(older_than timestamptz)
RETURNS TABLE (partition text, month_start timestamptz, month_end timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = public, pg_temp
SET timezone = 'UTC'
AS $$
    SELECT c.relname::text, m.start, m.start + interval '1 month'
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL (SELECT to_timestamp(substring(c.relname FROM '_y(\d{4}m\d{2})$'), 'YYYY"m"MM') AS start) m
     WHERE i.inhparent = 'public.audit_logs'::regclass
       AND c.relname ~ '^audit_logs_y\d{4}m\d{2}$'
       AND m.start + interval '1 month' <= least(older_than, now() - interval '30 days')
     ORDER BY m.start;
$$;

--bun:split

DROP TABLE IF EXISTS audit_policy;
DROP FUNCTION IF EXISTS audit_policy_owner_only();
