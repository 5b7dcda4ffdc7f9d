-- Report data (issue 13): materialized views that BI reports and Project.totalHours read instead
-- of summing time entries on every request, refreshed CONCURRENTLY (readers are never blocked) by
-- a periodic job and after bulk imports, through refresh_report_views.
--
-- Views have no row-level security (PostgreSQL has none for them). Every row carries tenant_id,
-- and the store filters by the request's tenant and reach exactly as it filters time entries;
-- the views are read by the service's role only through the store.
--
-- Only finished entries count (a running timer has no duration yet), and an entry counts on the
-- UTC day, ISO week (Monday) and month its start_time falls in.
--
-- Who computes them: REFRESH runs a view's query with its owner's rights, and forced row-level
-- security binds the owner too (only a superuser is not bound). So each view reads time entries
-- through a function that names each tenant in app.tenant_id in turn, as
-- interrupted_screenshots does, and puts the caller's setting back. Those functions would hand any
-- caller every tenant's figures, so they refuse everyone but their owner (REFRESH runs them as
-- the view's owner, who is theirs): the service's role, granted EXECUTE on every function,
-- reaches the figures through the views and the store only.

CREATE FUNCTION report_source_guard() RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT p.proowner FROM pg_proc p WHERE p.oid = 'report_source_guard()'::regprocedure), 'USAGE') THEN
        RAISE EXCEPTION 'report sources are read by their owner only (REFRESH MATERIALIZED VIEW, refresh_report_views)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;

--bun:split

-- Per employee and period (grain: day, week or month, UTC): finished seconds, billable seconds,
-- entries and distinct projects.
CREATE FUNCTION report_employee_rows(grain text)
RETURNS TABLE (tenant_id uuid, employee_id uuid, period date, total_seconds bigint, billable_seconds bigint,
               entry_count integer, distinct_projects integer)
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    caller_tenant text := coalesce(current_setting('app.tenant_id', true), '');
    t             uuid;
BEGIN
    PERFORM report_source_guard();
    IF grain NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION 'report_employee_rows: grain % is not day, week or month', grain;
    END IF;
    FOR t IN SELECT tn.id FROM tenants tn ORDER BY tn.id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        RETURN QUERY
            SELECT te.tenant_id, te.employee_id, date_trunc(grain, te.start_time AT TIME ZONE 'UTC')::date,
                   sum(te.duration_seconds)::bigint,
                   coalesce(sum(te.duration_seconds) FILTER (WHERE te.billable), 0)::bigint,
                   count(*)::integer, count(DISTINCT te.project_id)::integer
              FROM time_entries te
             WHERE te.tenant_id = t AND te.duration_seconds IS NOT NULL
             GROUP BY 1, 2, 3;
    END LOOP;
    PERFORM set_config('app.tenant_id', caller_tenant, true);
END;
$$;

--bun:split

-- Per project, employee and month: what the project reports sum within a range of months and
-- within a principal's reach.
CREATE FUNCTION report_project_rows()
RETURNS TABLE (tenant_id uuid, project_id uuid, employee_id uuid, month date, total_seconds bigint,
               billable_seconds bigint, entry_count integer, last_activity timestamptz)
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    caller_tenant text := coalesce(current_setting('app.tenant_id', true), '');
    t             uuid;
BEGIN
    PERFORM report_source_guard();
    FOR t IN SELECT tn.id FROM tenants tn ORDER BY tn.id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        RETURN QUERY
            SELECT te.tenant_id, te.project_id, te.employee_id, date_trunc('month', te.start_time AT TIME ZONE 'UTC')::date,
                   sum(te.duration_seconds)::bigint,
                   coalesce(sum(te.duration_seconds) FILTER (WHERE te.billable), 0)::bigint,
                   count(*)::integer, max(te.end_time)
              FROM time_entries te
             WHERE te.tenant_id = t AND te.duration_seconds IS NOT NULL
             GROUP BY 1, 2, 3, 4;
    END LOOP;
    PERFORM set_config('app.tenant_id', caller_tenant, true);
END;
$$;

--bun:split

-- Per project, all time and the whole tenant: team size (employees who tracked time on it),
-- hours, last activity and the budget as of the refresh. Read from report_project_monthly
-- (refreshed first, in the same transaction), joined with the projects of each tenant in turn.
CREATE FUNCTION report_project_total_rows()
RETURNS TABLE (tenant_id uuid, project_id uuid, team_size integer, total_seconds bigint, billable_seconds bigint,
               entry_count integer, last_activity timestamptz, budget_hours numeric, budget_utilisation double precision)
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    caller_tenant text := coalesce(current_setting('app.tenant_id', true), '');
    t             uuid;
BEGIN
    PERFORM report_source_guard();
    FOR t IN SELECT tn.id FROM tenants tn ORDER BY tn.id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        RETURN QUERY
            SELECT p.tenant_id, p.id, coalesce(a.team_size, 0)::integer, coalesce(a.total_seconds, 0)::bigint,
                   coalesce(a.billable_seconds, 0)::bigint, coalesce(a.entry_count, 0)::integer, a.last_activity,
                   p.budget_hours,
                   CASE WHEN p.budget_hours > 0 THEN coalesce(a.total_seconds, 0) / 3600.0 / p.budget_hours END::double precision
              FROM projects p
              LEFT JOIN (SELECT m.project_id, count(DISTINCT m.employee_id) AS team_size, sum(m.total_seconds) AS total_seconds,
                                sum(m.billable_seconds) AS billable_seconds, sum(m.entry_count) AS entry_count,
                                max(m.last_activity) AS last_activity
                           FROM report_project_monthly m WHERE m.tenant_id = t GROUP BY m.project_id) a ON a.project_id = p.id
             WHERE p.tenant_id = t;
    END LOOP;
    PERFORM set_config('app.tenant_id', caller_tenant, true);
END;
$$;

--bun:split

CREATE MATERIALIZED VIEW report_employee_daily AS
    SELECT tenant_id, employee_id, period AS day, total_seconds, billable_seconds, entry_count, distinct_projects
      FROM report_employee_rows('day');
-- The unique index REFRESH … CONCURRENTLY needs, period first: a report over a range of days for
-- a tenant's employees is one index range.
CREATE UNIQUE INDEX report_employee_daily_key ON report_employee_daily (tenant_id, day, employee_id);
CREATE INDEX report_employee_daily_employee_idx ON report_employee_daily (tenant_id, employee_id, day);

CREATE MATERIALIZED VIEW report_employee_weekly AS
    SELECT tenant_id, employee_id, period AS week, total_seconds, billable_seconds, entry_count, distinct_projects
      FROM report_employee_rows('week');
CREATE UNIQUE INDEX report_employee_weekly_key ON report_employee_weekly (tenant_id, week, employee_id);
CREATE INDEX report_employee_weekly_employee_idx ON report_employee_weekly (tenant_id, employee_id, week);

CREATE MATERIALIZED VIEW report_employee_monthly AS
    SELECT tenant_id, employee_id, period AS month, total_seconds, billable_seconds, entry_count, distinct_projects
      FROM report_employee_rows('month');
CREATE UNIQUE INDEX report_employee_monthly_key ON report_employee_monthly (tenant_id, month, employee_id);
CREATE INDEX report_employee_monthly_employee_idx ON report_employee_monthly (tenant_id, employee_id, month);

CREATE MATERIALIZED VIEW report_project_monthly AS SELECT * FROM report_project_rows();
CREATE UNIQUE INDEX report_project_monthly_key ON report_project_monthly (tenant_id, project_id, employee_id, month);
CREATE INDEX report_project_monthly_month_idx ON report_project_monthly (tenant_id, month);

CREATE MATERIALIZED VIEW report_project_totals AS SELECT * FROM report_project_total_rows();
CREATE UNIQUE INDEX report_project_totals_key ON report_project_totals (tenant_id, project_id);

--bun:split

-- When each view was last refreshed, and when the next refresh is due (the periodic job says;
-- null after a refresh nothing schedules again). Not a tenant table: one row per view.
CREATE TABLE report_refreshes (
    view_name    text PRIMARY KEY,
    refreshed_at timestamptz NOT NULL,
    duration_ms  integer NOT NULL DEFAULT 0,
    next_due_at  timestamptz
);
INSERT INTO report_refreshes (view_name, refreshed_at)
SELECT v, now() FROM unnest(ARRAY['report_employee_daily', 'report_employee_weekly', 'report_employee_monthly',
                                  'report_project_monthly', 'report_project_totals']) AS v;

--bun:split

-- refresh_report_views refreshes every report view CONCURRENTLY (readers keep reading the
-- previous contents until the transaction commits, all views at once) and records when. The
-- service's role does not own the views, so this runs with their owner's rights; it takes no
-- argument but when the next refresh is due. One refresh at a time: a call while another runs
-- returns no rows and does nothing.
CREATE FUNCTION refresh_report_views(next_in interval)
RETURNS TABLE (view_name text, refreshed_at timestamptz, duration_ms integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
SET timezone = 'UTC'
AS $$
#variable_conflict use_column
DECLARE
    v       text;
    started timestamptz;
    took    integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('refresh_report_views')) THEN
        RETURN;
    END IF;
    -- Order matters: report_project_totals reads report_project_monthly.
    FOREACH v IN ARRAY ARRAY['report_employee_daily', 'report_employee_weekly', 'report_employee_monthly',
                             'report_project_monthly', 'report_project_totals'] LOOP
        started := clock_timestamp();
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I', v);
        took := (extract(epoch FROM clock_timestamp() - started) * 1000)::integer;
        -- The figures are those committed when the refresh began reading.
        UPDATE report_refreshes r SET refreshed_at = started, duration_ms = took,
               next_due_at = CASE WHEN next_in IS NULL THEN NULL ELSE started + next_in END
         WHERE r.view_name = v;
        view_name := v;
        refreshed_at := started;
        duration_ms := took;
        RETURN NEXT;
    END LOOP;
END;
$$;
REVOKE EXECUTE ON FUNCTION refresh_report_views(interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION report_employee_rows(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION report_project_rows() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION report_project_total_rows() FROM PUBLIC;
