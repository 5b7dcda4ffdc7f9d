DROP INDEX IF EXISTS employees_tenant_bank_account_bidx;
DROP INDEX IF EXISTS employees_tenant_passport_bidx;
ALTER TABLE employees DROP COLUMN IF EXISTS bank_account_blind_index, DROP COLUMN IF EXISTS passport_blind_index;
DROP TABLE IF EXISTS pii_keysets;
