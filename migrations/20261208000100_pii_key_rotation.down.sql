ALTER TABLE pii_keysets DROP COLUMN IF EXISTS rotated_at;
