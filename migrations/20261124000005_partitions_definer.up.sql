-- The service connects as an ordinary role (row-level security binds it), which does not own
-- the partitioned tables and so cannot create their partitions. The function runs with its
-- owner's rights instead, for the three partitioned tables only, with a fixed search path.
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
    WHILE month <= to_month LOOP
        name := format('%s_y%sm%s', parent::text, to_char(month, 'YYYY'), to_char(month, 'MM'));
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                               name, parent, month::timestamptz, (month + interval '1 month')::timestamptz);
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
