-- Screenshot blob intents: the orphan sweeper's work list. A blob can be left without its
-- screenshot row in two ways only, both recent: an upload that died between writing its
-- original and committing the row, and a processing job whose results land after the screenshot
-- was deleted. Each writer records an intent (tenant, screenshot) before it writes a blob: the
-- upload's is deleted by the transaction that commits the row (so a committed upload leaves
-- none), the processing job's stays. The sweeper (jobs.SweepScreenshotBlobsArgs) reads the
-- intents older than the orphan age, deletes the blobs of the screenshot's folder when the
-- screenshot has no row, and deletes the intent: it never lists the bucket.
CREATE TABLE screenshot_blob_intents (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    screenshot_id uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, screenshot_id)
);
-- The sweeper's probe: a tenant's intents, oldest first.
CREATE INDEX screenshot_blob_intents_created_idx ON screenshot_blob_intents (tenant_id, created_at);

ALTER TABLE screenshot_blob_intents ENABLE ROW LEVEL SECURITY;
ALTER TABLE screenshot_blob_intents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screenshot_blob_intents
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));

--bun:split

-- due_screenshot_blob_intents returns up to max_rows (at most 1,000) intents, of any tenant,
-- recorded before older_than (never later than now), oldest first within a tenant. Keys only:
-- the caller judges and deletes each in its own tenant through the tenant-scoped store. It
-- crosses tenants with its owner's rights, naming each tenant in app.tenant_id in turn (forced
-- row-level security binds the owner too) and putting the caller's setting back, as
-- interrupted_screenshots does. One index probe per tenant; it stops once max_rows are found.
CREATE FUNCTION due_screenshot_blob_intents(older_than timestamptz, max_rows integer)
RETURNS TABLE (tenant_id uuid, screenshot_id uuid)
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
            SELECT i.tenant_id, i.screenshot_id FROM screenshot_blob_intents i
             WHERE i.tenant_id = t AND i.created_at < cutoff
             ORDER BY i.created_at
             LIMIT wanted;
        GET DIAGNOSTICS found_rows = ROW_COUNT;
        wanted := wanted - found_rows;
    END LOOP;
    PERFORM set_config('app.tenant_id', caller_tenant, true);
END;
$$;
REVOKE EXECUTE ON FUNCTION due_screenshot_blob_intents(timestamptz, integer) FROM PUBLIC;
