DROP TABLE IF EXISTS screenshots, activity_samples, running_timers, time_entries, task_dependencies,
    tasks, project_members, projects, employees, departments, tenants CASCADE;
--bun:split
DROP FUNCTION IF EXISTS ensure_monthly_partitions(regclass, date, date);
