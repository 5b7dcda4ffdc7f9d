-- Online key rotation (workingtracker keys rotate / retire, internal/pii): when the tenant's
-- primary data key last changed. Instances cache a tenant's keysets for at most a minute, so
-- for a while after a rotation some may still encrypt under the previous primary: `keys retire`
-- refuses to remove a key until the rotation is older than that bound (twice over).
ALTER TABLE pii_keysets ADD COLUMN rotated_at timestamptz NOT NULL DEFAULT now();
