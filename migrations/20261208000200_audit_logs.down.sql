DROP FUNCTION IF EXISTS drop_audit_partition(text, timestamptz);
DROP FUNCTION IF EXISTS audit_partitions_due(timestamptz);

--bun:split

DROP TABLE IF EXISTS audit_anchors;
DROP TABLE IF EXISTS audit_heads;
DROP TABLE IF EXISTS audit_logs;
DROP FUNCTION IF EXISTS audit_head_forward();
DROP FUNCTION IF EXISTS audit_append_only();

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
