ALTER TABLE tenants DROP COLUMN allow_overlapping_time_entries;
