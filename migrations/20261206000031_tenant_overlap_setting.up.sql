-- Overlapping time entries of one employee are refused by default (store.checkOverlap, under a
-- per-employee lock). Some organisations record parallel work (two projects billed at once, a
-- meeting during a build); they may allow overlaps with this setting.
--
-- Not an exclusion constraint: time_entries is partitioned by month on start_time, and a
-- partitioned table's exclusion constraint must compare the partition key with equality, so it
-- could only refuse overlaps of entries that start at the same instant; one per partition would
-- miss an entry from 23:00 on the 31st overlapping one at 00:30 on the 1st.
ALTER TABLE tenants ADD COLUMN allow_overlapping_time_entries boolean NOT NULL DEFAULT false;
