DROP FUNCTION authenticate_api_key(bytea);
CREATE FUNCTION authenticate_api_key(hash bytea)
RETURNS TABLE (tenant_id uuid, id uuid, name text, role text, employee_id uuid, expires_at timestamptz,
               cost_budget_maximum int, cost_budget_restore_per_second int)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    UPDATE api_keys k
       SET last_used_at = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'
                               THEN now() ELSE k.last_used_at END
     WHERE k.secret_hash = hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
           AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
    RETURNING k.tenant_id, k.id, k.name, k.role, k.employee_id, k.expires_at,
              k.cost_budget_maximum, k.cost_budget_restore_per_second;
    IF NOT FOUND THEN
        RETURN QUERY
        SELECT k.tenant_id, k.id, k.name, k.role, k.employee_id, k.expires_at,
               k.cost_budget_maximum, k.cost_budget_restore_per_second FROM api_keys k
         WHERE k.secret_hash = hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now());
    END IF;
END;
$$;
REVOKE EXECUTE ON FUNCTION authenticate_api_key(bytea) FROM PUBLIC;

DROP POLICY key_authentication_use ON api_keys;
DROP POLICY key_authentication_read ON api_keys;
ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY;
