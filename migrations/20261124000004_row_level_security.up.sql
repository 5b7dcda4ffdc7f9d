-- Row-level security: every tenant table admits only the rows of the tenant the session names
-- in app.tenant_id (the store sets it for every read and transaction). A query that forgets its
-- tenant filter therefore returns nothing. FORCE applies the policies to the tables' owner too;
-- only superusers bypass them, so the service must not connect as one.
--
-- api_keys is left out on purpose: authenticating a key is the one lookup that must cross
-- tenants (the key names its tenant), and it is by the hash of a 256-bit secret.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['departments', 'employees', 'projects', 'project_members', 'tasks',
        'task_dependencies', 'time_entries', 'running_timers', 'activity_samples', 'screenshots']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
            WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
    END LOOP;
END
$$;
