DROP INDEX screenshots_employee_idx;
CREATE INDEX screenshots_employee_idx ON screenshots (tenant_id, employee_id, captured_at DESC);
DROP INDEX screenshots_tenant_captured_idx;
