-- API keys let service principals in: BI tools (read-only, the whole tenant) and desktop agents
-- (one employee's time tracking). Only a SHA-256 of the secret is stored — the secret is 32
-- random bytes, so a fast hash is enough and lookups stay an index probe.
CREATE TABLE api_keys (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role         text NOT NULL CHECK (role IN ('BI', 'AGENT')),
    employee_id  uuid,
    secret_hash  bytea NOT NULL UNIQUE,
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
    -- An agent acts for exactly one employee; a BI tool for none.
    CHECK ((role = 'AGENT') = (employee_id IS NOT NULL))
);
