DROP FUNCTION authenticate_api_key(bytea);
CREATE FUNCTION authenticate_api_key(hash bytea)
RETURNS TABLE (tenant_id uuid, id uuid, name text, role text, employee_id uuid, expires_at timestamptz)
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
    RETURNING k.tenant_id, k.id, k.name, k.role, k.employee_id, k.expires_at;
    IF NOT FOUND THEN
        RETURN QUERY
        SELECT k.tenant_id, k.id, k.name, k.role, k.employee_id, k.expires_at FROM api_keys k
         WHERE k.secret_hash = hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now());
    END IF;
END;
$$;
REVOKE EXECUTE ON FUNCTION authenticate_api_key(bytea) FROM PUBLIC;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_cost_budget_check, DROP COLUMN cost_budget_maximum, DROP COLUMN cost_budget_restore_per_second;
