DROP FUNCTION IF EXISTS authenticate_api_key(bytea);
DROP POLICY IF EXISTS tenant_isolation ON api_keys;
ALTER TABLE api_keys DISABLE ROW LEVEL SECURITY;
