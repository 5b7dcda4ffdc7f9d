-- Policies apply to the table a query names. The store always names the parents, but a role
-- with rights on the partitions could read them directly: every partition gets the same tenant
-- policy, existing ones here and new ones as ensure_monthly_partitions creates them.
CREATE FUNCTION protect_partition(partition text) RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', partition);
    EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', partition);
    IF NOT EXISTS (SELECT FROM pg_policies WHERE schemaname = 'public' AND tablename = partition
                                              AND policyname = 'tenant_isolation') THEN
        EXECUTE format($p$CREATE POLICY tenant_isolation ON public.%I
            USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
            WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, partition);
    END IF;
END;
$$;
REVOKE EXECUTE ON FUNCTION protect_partition(text) FROM PUBLIC;

--bun:split

SELECT protect_partition(c.relname::text)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent IN ('time_entries'::regclass, 'activity_samples'::regclass, 'screenshots'::regclass);

--bun:split

CREATE OR REPLACE FUNCTION ensure_monthly_partitions(parent regclass, from_month date, to_month date)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
SET timezone = 'UTC'
AS $$
DECLARE
    month   date := date_trunc('month', from_month)::date;
    created integer := 0;
    name    text;
BEGIN
    IF parent::text NOT IN ('time_entries', 'activity_samples', 'screenshots') THEN
        RAISE EXCEPTION 'ensure_monthly_partitions: % is not a partitioned table of this service', parent;
    END IF;
    IF from_month < (now() - interval '6 years')::date OR to_month > (now() + interval '25 months')::date
       OR to_month < from_month THEN
        RAISE EXCEPTION 'ensure_monthly_partitions: % to % is outside the months rows may fall in', from_month, to_month;
    END IF;
    WHILE month <= to_month LOOP
        name := format('%s_y%sm%s', parent::text, to_char(month, 'YYYY'), to_char(month, 'MM'));
        IF to_regclass(format('public.%I', name)) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                               name, parent::text, month::timestamptz, (month + interval '1 month')::timestamptz);
                PERFORM protect_partition(name);
                created := created + 1;
            EXCEPTION WHEN duplicate_table THEN
                NULL;
            END;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN created;
END;
$$;


REVOKE EXECUTE ON FUNCTION ensure_monthly_partitions(regclass, date, date) FROM PUBLIC;
