-- Reading screenshots (issue 11): lists are newest capture first, (captured_at DESC, id DESC),
-- and an agent uploads one every few minutes per employee, so a list must be an ordered index
-- scan that stops after a page, never a sort of everything a tenant or an employee captured.
--
-- The whole tenant's (HR, ADMIN, BI): without this index a page of 21 was a scan and a top-N
-- sort of every screenshot of the tenant (600k rows: 98 ms).
CREATE INDEX screenshots_tenant_captured_idx ON screenshots (tenant_id, captured_at DESC, id DESC);

-- One employee's (their own; each of a manager's reports, probed one by one): the core index
-- without id could not give the tie-break order. Replaced rather than doubled: it is a prefix of
-- the new one, and every screenshot written updates each index.
DROP INDEX screenshots_employee_idx;
CREATE INDEX screenshots_employee_idx ON screenshots (tenant_id, employee_id, captured_at DESC, id DESC);
