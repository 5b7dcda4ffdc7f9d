-- The shortest retention of the audit trail, enforced by the database. audit_partitions_due
-- (and so drop_audit_partition) used to take the retention from its caller, floored at 30 days:
-- a compromised application role could anchor and drop every month older than 30 days,
-- whatever AUDIT_RETENTION said. The floor now lives in audit_policy, a one-row table only its
-- owner changes (a trigger checks, whatever the grants); the caller's retention can only make a
-- drop later. An operator who shortens AUDIT_RETENTION below the floor lowers the floor too:
--   UPDATE audit_policy SET min_retention = interval '90 days';   -- as the tables' owner
CREATE TABLE audit_policy (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    min_retention interval NOT NULL DEFAULT interval '400 days' CHECK (min_retention >= interval '30 days')
);
INSERT INTO audit_policy DEFAULT VALUES;

CREATE FUNCTION audit_policy_owner_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID), 'USAGE') THEN
        RAISE EXCEPTION 'audit_policy is changed by the owner of the audit tables only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_policy_owner_only BEFORE INSERT OR UPDATE OR DELETE ON audit_policy
    FOR EACH ROW EXECUTE FUNCTION audit_policy_owner_only();
CREATE TRIGGER audit_policy_owner_only_truncate BEFORE TRUNCATE ON audit_policy
    FOR EACH STATEMENT EXECUTE FUNCTION audit_policy_owner_only();

--bun:split

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
       AND m.start + interval '1 month' <= least(older_than,
             now() - greatest(interval '30 days', (SELECT p.min_retention FROM audit_policy p)))
     ORDER BY m.start;
$$;
