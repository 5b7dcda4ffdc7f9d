-- Per-tenant keys of the encrypted personal data (internal/pii). Each tenant has two Tink
-- keysets, both stored only encrypted by the master key (PII_MASTER_KEY) with the tenant's id as
-- associated data, so a keyset copied to another tenant's row does not open:
--   aead_keyset: AES-256-GCM data keys. Every ciphertext starts with the id of the key that made
--     it; rotation adds a key and makes it primary, re-encryption moves rows onto it, and retire
--     removes a key no row uses any more.
--   mac_keyset: the HMAC-SHA256 key of the blind indexes (exact-match lookup without decrypting).
CREATE TABLE pii_keysets (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    aead_keyset bytea NOT NULL,
    mac_keyset  bytea NOT NULL,
    -- The key id new ciphertexts are made with (the AEAD keyset's primary), readable without
    -- the master key: `keys status` and re-encryption compare rows against it.
    primary_key_id bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE pii_keysets ENABLE ROW LEVEL SECURITY;
ALTER TABLE pii_keysets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pii_keysets
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));

-- Every kind of personal data can be looked up exactly (employeeByIdentifier).
ALTER TABLE employees ADD COLUMN passport_blind_index bytea, ADD COLUMN bank_account_blind_index bytea;
CREATE INDEX employees_tenant_passport_bidx ON employees (tenant_id, passport_blind_index) WHERE passport_blind_index IS NOT NULL;
CREATE INDEX employees_tenant_bank_account_bidx ON employees (tenant_id, bank_account_blind_index) WHERE bank_account_blind_index IS NOT NULL;
