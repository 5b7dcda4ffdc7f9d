-- A screenshot whose processing job is gone (its worker killed during the last attempt, which
-- river's rescuer discards without running our code; a job discarded or cancelled by an
-- operator) stays PENDING or PROCESSING forever. The reconciliation job (jobs.ReconcileArgs,
-- screenshot_reconcile) finds such rows in every tenant and marks them FAILED in their tenant.

-- The unfinished screenshots of a tenant, oldest change first. Partial: a finished screenshot
-- (nearly all of them) is not in it, so the index stays the size of the queue.
CREATE INDEX screenshots_unfinished_updated_idx ON screenshots (tenant_id, updated_at)
    WHERE status IN ('PENDING', 'PROCESSING');

--bun:split

-- interrupted_screenshots returns up to max_rows (at most 1,000) screenshots, of any tenant,
-- that are PENDING or PROCESSING, unchanged since before older_than (never later than now), and
-- have no live screenshot_process job: river_job has no row of that kind naming the screenshot
-- (tenant_id and screenshot_id in its args, found through river's GIN index on args) in a state
-- that would still run it. It returns keys only; the caller writes each row through the
-- tenant-scoped store, which row-level security binds as any other write.
--
-- It crosses tenants, so it runs with its owner's rights. Forced row-level security binds the
-- owner too (only a superuser would not be bound), so it names each tenant in app.tenant_id in
-- turn, as authenticate_api_key does for its one tenant, and puts the caller's setting back.
-- One index probe per tenant; it stops once max_rows are found. river_job does not exist yet
-- when this migration runs (river's migrations follow ours): PL/pgSQL resolves it when called.
CREATE FUNCTION interrupted_screenshots(older_than timestamptz, max_rows integer)
RETURNS TABLE (tenant_id uuid, id uuid, captured_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    caller_tenant text        := coalesce(current_setting('app.tenant_id', true), '');
    cutoff        timestamptz := least(older_than, now());
    wanted        integer     := least(greatest(coalesce(max_rows, 0), 0), 1000);
    found_rows    integer;
    t             uuid;
BEGIN
    FOR t IN SELECT tn.id FROM tenants tn ORDER BY tn.id LOOP
        EXIT WHEN wanted <= 0;
        PERFORM set_config('app.tenant_id', t::text, true);
        RETURN QUERY
            SELECT s.tenant_id, s.id, s.captured_at FROM screenshots s
             WHERE s.tenant_id = t AND s.status IN ('PENDING', 'PROCESSING') AND s.updated_at < cutoff
               AND NOT EXISTS (SELECT FROM river_job j
                    WHERE j.kind = 'screenshot_process'
                      AND j.args @> jsonb_build_object('tenant_id', s.tenant_id, 'screenshot_id', s.id)
                      AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled'))
             ORDER BY s.updated_at
             LIMIT wanted;
        GET DIAGNOSTICS found_rows = ROW_COUNT;
        wanted := wanted - found_rows;
    END LOOP;
    PERFORM set_config('app.tenant_id', caller_tenant, true);
END;
$$;
REVOKE EXECUTE ON FUNCTION interrupted_screenshots(timestamptz, integer) FROM PUBLIC;
