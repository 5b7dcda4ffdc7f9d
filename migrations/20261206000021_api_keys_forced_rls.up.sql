-- api_keys was the one tenant table whose row-level security was enabled but not forced, so its
-- owner was not bound: a service that connected as the owner (or a query run through any of the
-- owner's functions) saw every tenant's keys. It is forced now, like every other tenant table.
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;

-- authenticate_api_key relied on that exemption: it looks a key up by the hash of its secret,
-- before any tenant is known. Instead it now names that hash in app.api_key_hash for the duration
-- of the call, and these policies admit the one key with that hash (permissive policies add up,
-- so tenant_isolation still admits the session's tenant). A query that forgets its tenant filter
-- sees no key, as before; naming a hash needs the hash, which only the secret gives.
CREATE POLICY key_authentication_read ON api_keys FOR SELECT
    USING (secret_hash = (SELECT decode(nullif(current_setting('app.api_key_hash', true), ''), 'hex')));
CREATE POLICY key_authentication_use ON api_keys FOR UPDATE
    USING (secret_hash = (SELECT decode(nullif(current_setting('app.api_key_hash', true), ''), 'hex')));

-- authenticate_api_key returns the live key with this secret hash and records its use at most
-- once a minute. An AGENT key acts for an employee: it is live only while that employee's
-- account is open (ACTIVE or ON_LEAVE; a TERMINATED employee's key fails like a revoked one).
-- Inside, app.tenant_id names the key's tenant so the employee's row is visible (employees'
-- security is forced too). Both settings are put back as they were before it returns (a SET
-- clause would do it for us, but only a superuser may attach one for a custom setting); an
-- error aborts the transaction, which undoes them anyway.
DROP FUNCTION authenticate_api_key(bytea);
CREATE FUNCTION authenticate_api_key(hash bytea)
RETURNS TABLE (tenant_id uuid, id uuid, name text, role text, employee_id uuid, expires_at timestamptz,
               cost_budget_maximum int, cost_budget_restore_per_second int)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    caller_tenant text := coalesce(current_setting('app.tenant_id', true), '');
    caller_hash   text := coalesce(current_setting('app.api_key_hash', true), '');
    k             api_keys%ROWTYPE;
    live          boolean;
BEGIN
    PERFORM set_config('app.api_key_hash', encode(hash, 'hex'), true);
    SELECT * INTO k FROM api_keys a
     WHERE a.secret_hash = hash AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > now());
    live := FOUND;
    IF live THEN
        PERFORM set_config('app.tenant_id', k.tenant_id::text, true);
        live := k.employee_id IS NULL OR EXISTS (SELECT FROM employees e
            WHERE e.tenant_id = k.tenant_id AND e.id = k.employee_id AND e.status <> 'TERMINATED');
    END IF;
    IF live AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') THEN
        UPDATE api_keys a SET last_used_at = now()
         WHERE a.tenant_id = k.tenant_id AND a.id = k.id
           AND (a.last_used_at IS NULL OR a.last_used_at < now() - interval '1 minute');
    END IF;
    PERFORM set_config('app.api_key_hash', caller_hash, true), set_config('app.tenant_id', caller_tenant, true);
    IF live THEN
        RETURN QUERY SELECT k.tenant_id, k.id, k.name, k.role, k.employee_id, k.expires_at,
                            k.cost_budget_maximum, k.cost_budget_restore_per_second;
    END IF;
END;
$$;
REVOKE EXECUTE ON FUNCTION authenticate_api_key(bytea) FROM PUBLIC;
