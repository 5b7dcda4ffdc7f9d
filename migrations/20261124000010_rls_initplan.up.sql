-- The tenant policies compare tenant_id with the session's tenant through a scalar subquery.
-- The value is the same, so the policies admit exactly the rows they admitted; but PostgreSQL
-- evaluates an uncorrelated subquery once per statement (an InitPlan), where the bare expression
-- ran current_setting and a text-to-uuid parse for every row, or for every partition each time a
-- LATERAL probe rescans it: on the nested employees page's latest-entries statement (50 probes
-- into 7 partitions) the policy was 0.08 ms of 0.47 (0.39 with the subquery, 0.35 for a
-- superuser, whom the policies do not bind; pgbench, one client). Every policy of this name is
-- changed: the tenant tables, their partitions and api_keys; protect_partition gives new
-- partitions the same.
DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT tablename FROM pg_policies WHERE schemaname = 'public' AND policyname = 'tenant_isolation' LOOP
        EXECUTE format($a$ALTER POLICY tenant_isolation ON public.%I
            USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
            WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))$a$, p.tablename);
    END LOOP;
END
$$;

--bun:split

CREATE OR REPLACE FUNCTION protect_partition(partition text) RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', partition);
    EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', partition);
    IF NOT EXISTS (SELECT FROM pg_policies WHERE schemaname = 'public' AND tablename = partition
                                              AND policyname = 'tenant_isolation') THEN
        EXECUTE format($p$CREATE POLICY tenant_isolation ON public.%I
            USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
            WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))$p$, partition);
    END IF;
END;
$$;
