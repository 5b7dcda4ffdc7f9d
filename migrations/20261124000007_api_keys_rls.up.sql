-- api_keys joins row-level security: the service's role sees only the keys of the tenant its
-- session names. Authenticating a key is the one lookup that must cross tenants (the key names
-- its tenant), so it runs in a function with the owner's rights; RLS is enabled but not forced,
-- so the owner (and that function) is not bound, while the service's ordinary role is.
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- authenticate_api_key returns the live key with this secret hash and records its use at most
-- once a minute.
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
