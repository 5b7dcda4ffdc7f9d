-- Persisted operations (trusted documents): the operations an organisation approved for its
-- clients, registered from an Apollo persisted-query manifest (`workingtracker operations push`)
-- or registerOperations. A client runs one by id (extensions.persistedQuery.sha256Hash or
-- documentId); BI keys, and everyone under TRUSTED_DOCUMENTS=only, run nothing else. The id is
-- the SHA-256 of the body in hex, checked here too, so a row's id always names its body and a
-- row is never changed: a new body is a new row, the next version of its name.
CREATE TABLE persisted_operations (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            text NOT NULL,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    type          text NOT NULL CHECK (type IN ('query', 'mutation', 'subscription')),
    body          text NOT NULL CHECK (octet_length(body) BETWEEN 1 AND 32768),
    -- 1 for the first body of a name in the tenant, then 2, 3, …
    version       integer NOT NULL CHECK (version >= 1),
    -- The ADMIN who registered it; null when pushed from the command line.
    registered_by uuid,
    registered_at timestamptz NOT NULL DEFAULT now(),
    -- Written at most once a minute per operation (and instance), not on every run.
    first_used_at timestamptz,
    last_used_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name, version),
    CONSTRAINT persisted_operations_id_is_body_hash CHECK (id = encode(sha256(convert_to(body, 'UTF8')), 'hex'))
);

ALTER TABLE persisted_operations ENABLE ROW LEVEL SECURITY;
ALTER TABLE persisted_operations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON persisted_operations
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
