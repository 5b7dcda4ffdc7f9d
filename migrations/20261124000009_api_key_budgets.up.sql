-- An API key may carry its own query-cost budget (a BI tool pulling large reports gets more
-- than its role's tier); NULL keeps the role's.
ALTER TABLE api_keys
    ADD COLUMN cost_budget_maximum int,
    ADD COLUMN cost_budget_restore_per_second int,
    ADD CONSTRAINT api_keys_cost_budget_check CHECK (
        (cost_budget_maximum IS NULL AND cost_budget_restore_per_second IS NULL) OR
        (cost_budget_maximum BETWEEN 1 AND 10000000 AND cost_budget_restore_per_second BETWEEN 1 AND 1000000));

-- The function returns the budget too: its row type changes, so it is created again.
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
