-- The audit log (issue 12): append-only, partitioned by month on occurred_at, hash-chained per
-- tenant. Each entry's hash is SHA-256 over a canonical encoding of the entry and the previous
-- entry's hash (store/audit_hash.go documents the encoding), so an edited or deleted entry
-- breaks the chain where `workingtracker audit verify` finds it.
--
-- Writers of one tenant are serialised by its row in audit_heads (locked FOR UPDATE by the
-- append, at the end of the writer's transaction); writers of different tenants lock different
-- rows and never wait for each other. occurred_at never goes back within a tenant (the head
-- keeps the last one), so seq order is time order and a partition holds a contiguous range of
-- each tenant's sequence: retention drops whole months and anchors the chain at their end.
CREATE TABLE audit_logs (
    tenant_id      uuid        NOT NULL REFERENCES tenants (id),
    seq            bigint      NOT NULL CHECK (seq > 0),
    occurred_at    timestamptz NOT NULL,
    id             uuid        NOT NULL,
    actor_type     text        NOT NULL CHECK (actor_type IN ('EMPLOYEE', 'API_KEY', 'SYSTEM')),
    actor_id       uuid,
    action         text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    resource_type  text        CHECK (length(resource_type) <= 100),
    resource_id    uuid,
    changed_fields text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(changed_fields) <= 100),
    count          integer     NOT NULL DEFAULT 1 CHECK (count > 0),
    reason         text        CHECK (length(reason) <= 1000),
    request_id     text        CHECK (length(request_id) <= 128),
    client_ip      text        CHECK (length(client_ip) <= 64),
    user_agent     text        CHECK (length(user_agent) <= 512),
    previous_hash  bytea       NOT NULL CHECK (length(previous_hash) = 32),
    hash           bytea       NOT NULL CHECK (length(hash) = 32),
    -- Newest first (auditLogs) is a backward scan of it, the chain in order (verify) a forward
    -- one; with occurred_at in it, a time range prunes partitions and ordered appends stop early.
    PRIMARY KEY (tenant_id, occurred_at, seq)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX audit_logs_actor_idx ON audit_logs (tenant_id, actor_id, occurred_at DESC, seq DESC) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_logs_resource_idx ON audit_logs (tenant_id, resource_type, resource_id, occurred_at DESC, seq DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (tenant_id, action, occurred_at DESC, seq DESC);

-- The head of each tenant's chain: the last sequence, its hash and time. The append locks it
-- (INSERT … ON CONFLICT DO UPDATE), which serialises one tenant's writers only.
CREATE TABLE audit_heads (
    tenant_id   uuid        PRIMARY KEY REFERENCES tenants (id),
    seq         bigint      NOT NULL DEFAULT 0 CHECK (seq >= 0),
    hash        bytea       NOT NULL DEFAULT decode(repeat('00', 32), 'hex') CHECK (length(hash) = 32),
    occurred_at timestamptz
);

-- Where the chain resumes after retention dropped a month: per tenant, the last entry of the
-- dropped range (its sequence and hash) and where its export went.
CREATE TABLE audit_anchors (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id),
    seq         bigint      NOT NULL CHECK (seq > 0),
    hash        bytea       NOT NULL CHECK (length(hash) = 32),
    partition   text        NOT NULL,
    export_key  text,
    entries     bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, seq)
);

--bun:split

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_logs', 'audit_heads', 'audit_anchors'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
            WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))$p$, t);
    END LOOP;
END
$$;

--bun:split

-- Append-only, whatever the grants: UPDATE, DELETE and TRUNCATE of entries and anchors raise.
-- (Retention detaches and drops whole partitions, which fires none of these.) The deploy also
-- revokes UPDATE, DELETE and TRUNCATE from the application role (README, Deploying).
CREATE FUNCTION audit_append_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_anchors_append_only BEFORE UPDATE OR DELETE ON audit_anchors
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- A head only moves forward: deleting it or moving it back would let a new chain start over
-- the old one.
CREATE FUNCTION audit_head_forward() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq OR NEW.tenant_id <> OLD.tenant_id THEN
        RAISE EXCEPTION 'audit_heads only move forward: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_heads_forward BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

--bun:split

-- Partitions of audit_logs are kept ahead like the other monthly tables'.
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
    IF parent::text NOT IN ('time_entries', 'activity_samples', 'screenshots', 'audit_logs') THEN
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

--bun:split

SELECT ensure_monthly_partitions('audit_logs'::regclass,
                                 (date_trunc('month', now()) - interval '1 month')::date,
                                 (date_trunc('month', now()) + interval '3 months')::date);

--bun:split

-- audit_partitions_due lists the partitions of audit_logs that end at or before older_than
-- (never later than 30 days ago), oldest first: what retention may export and drop.
CREATE FUNCTION audit_partitions_due(older_than timestamptz)
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
REVOKE EXECUTE ON FUNCTION audit_partitions_due(timestamptz) FROM PUBLIC;

-- drop_audit_partition detaches and drops one partition of audit_logs, with its owner's rights
-- (the application role owns nothing). Narrow: only a partition audit_partitions_due lists for
-- older_than, and only when every tenant with entries in it has an anchor naming the partition
-- whose sequence and hash are its last entry's (retention exports, then anchors, then drops), so
-- `audit verify` still verifies what remains. It names each tenant in app.tenant_id in turn
-- (forced row-level security binds the owner too) and puts the caller's setting back.
CREATE FUNCTION drop_audit_partition(part text, older_than timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    caller_tenant text := coalesce(current_setting('app.tenant_id', true), '');
    t       uuid;
    last_seq bigint;
    last_hash bytea;
    dropped bigint := 0;
    n       bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM audit_partitions_due(older_than) d WHERE d.partition = part) THEN
        RAISE EXCEPTION 'drop_audit_partition: % is not a partition of audit_logs older than the retention', part;
    END IF;
    FOR t IN SELECT tn.id FROM tenants tn ORDER BY tn.id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        EXECUTE format('SELECT count(*), max(seq) FROM public.%I WHERE tenant_id = $1', part) INTO n, last_seq USING t;
        CONTINUE WHEN n = 0;
        EXECUTE format('SELECT hash FROM public.%I WHERE tenant_id = $1 AND seq = $2', part) INTO last_hash USING t, last_seq;
        IF NOT EXISTS (SELECT FROM audit_anchors a WHERE a.tenant_id = t AND a.seq = last_seq
                                                     AND a.hash = last_hash AND a.partition = part) THEN
            RAISE EXCEPTION 'drop_audit_partition: tenant % has no anchor at the end of %', t, part;
        END IF;
        dropped := dropped + n;
    END LOOP;
    PERFORM set_config('app.tenant_id', caller_tenant, true);
    EXECUTE format('ALTER TABLE public.audit_logs DETACH PARTITION public.%I', part);
    EXECUTE format('DROP TABLE public.%I', part);
    RETURN dropped;
END;
$$;
REVOKE EXECUTE ON FUNCTION drop_audit_partition(text, timestamptz) FROM PUBLIC;
