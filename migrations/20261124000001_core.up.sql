-- Core schema. Every tenant table carries tenant_id first in its primary key and in every
-- composite index, and references other tenant rows by (tenant_id, id), so that a row can never
-- point into another tenant and a later move to sharding by tenant stays open.

CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE departments (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE employees (
    tenant_id                 uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                        uuid NOT NULL,
    department_id             uuid,
    manager_id                uuid,
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email                     text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    role                      text NOT NULL CHECK (role IN ('ADMIN', 'HR', 'MANAGER', 'EMPLOYEE', 'AUDITOR')),
    status                    text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'ON_LEAVE', 'TERMINATED')),
    hourly_rate               numeric(12, 2) CHECK (hourly_rate >= 0),
    -- PII is stored only as AEAD ciphertext (a later issue fills these) plus keyed blind indexes
    -- for exact lookup; the key id names the keyset version that sealed the row.
    ssn_ciphertext            bytea,
    tax_id_ciphertext         bytea,
    passport_ciphertext       bytea,
    bank_account_ciphertext   bytea,
    ssn_blind_index           bytea,
    tax_id_blind_index        bytea,
    pii_key_id                text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, department_id) REFERENCES departments (tenant_id, id) ON DELETE SET NULL (department_id),
    FOREIGN KEY (tenant_id, manager_id) REFERENCES employees (tenant_id, id) ON DELETE SET NULL (manager_id),
    CHECK (manager_id IS NULL OR manager_id <> id)
);
CREATE UNIQUE INDEX employees_tenant_email_key ON employees (tenant_id, lower(email));
CREATE INDEX employees_tenant_name_idx ON employees (tenant_id, name, id);
CREATE INDEX employees_tenant_manager_idx ON employees (tenant_id, manager_id) WHERE manager_id IS NOT NULL;
CREATE INDEX employees_tenant_department_idx ON employees (tenant_id, department_id) WHERE department_id IS NOT NULL;
CREATE INDEX employees_tenant_ssn_bidx ON employees (tenant_id, ssn_blind_index) WHERE ssn_blind_index IS NOT NULL;
CREATE INDEX employees_tenant_tax_id_bidx ON employees (tenant_id, tax_id_blind_index) WHERE tax_id_blind_index IS NOT NULL;

CREATE TABLE projects (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    status       text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('PLANNED', 'ACTIVE', 'ON_HOLD', 'COMPLETED', 'ARCHIVED')),
    budget_hours numeric(10, 2) CHECK (budget_hours >= 0),
    billable     boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX projects_tenant_status_idx ON projects (tenant_id, status);
CREATE INDEX projects_tenant_name_idx ON projects (tenant_id, name, id);

CREATE TABLE project_members (
    tenant_id   uuid NOT NULL,
    project_id  uuid NOT NULL,
    employee_id uuid NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, project_id, employee_id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX project_members_tenant_employee_idx ON project_members (tenant_id, employee_id, project_id);

CREATE TABLE tasks (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    project_id     uuid NOT NULL,
    assignee_id    uuid,
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description    text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    status         text NOT NULL DEFAULT 'TODO' CHECK (status IN ('TODO', 'IN_PROGRESS', 'BLOCKED', 'DONE')),
    estimate_hours numeric(8, 2) CHECK (estimate_hours >= 0),
    due_date       date,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assignee_id) REFERENCES employees (tenant_id, id) ON DELETE SET NULL (assignee_id)
);
CREATE INDEX tasks_tenant_project_idx ON tasks (tenant_id, project_id, created_at, id);
CREATE INDEX tasks_tenant_assignee_idx ON tasks (tenant_id, assignee_id) WHERE assignee_id IS NOT NULL;

CREATE TABLE task_dependencies (
    tenant_id     uuid NOT NULL,
    task_id       uuid NOT NULL,
    depends_on_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, task_id, depends_on_id),
    FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, depends_on_id) REFERENCES tasks (tenant_id, id) ON DELETE CASCADE,
    CHECK (task_id <> depends_on_id)
);
CREATE INDEX task_dependencies_reverse_idx ON task_dependencies (tenant_id, depends_on_id);

-- Time entries are partitioned by month on start_time: reports and "latest N per employee" read
-- a few recent partitions, and old months can be detached or archived whole. There is deliberately
-- no DEFAULT partition: rows in it would block ordered index scans across partitions, so months
-- are created ahead (migrate, start-up, a periodic job) and on demand (the store creates a
-- missing month before it writes into it).
CREATE TABLE time_entries (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL,
    employee_id      uuid NOT NULL,
    project_id       uuid NOT NULL,
    task_id          uuid,
    start_time       timestamptz NOT NULL,
    end_time         timestamptz,
    duration_seconds integer GENERATED ALWAYS AS (extract(epoch FROM end_time - start_time)::integer) STORED,
    description      text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    billable         boolean NOT NULL DEFAULT true,
    source           text NOT NULL DEFAULT 'MANUAL' CHECK (source IN ('MANUAL', 'TIMER', 'AGENT')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id, start_time),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id) ON DELETE SET NULL (task_id),
    CHECK (end_time IS NULL OR end_time > start_time)
) PARTITION BY RANGE (start_time);
CREATE INDEX time_entries_employee_start_idx ON time_entries (tenant_id, employee_id, start_time DESC, id DESC);
CREATE INDEX time_entries_project_idx ON time_entries (tenant_id, project_id) INCLUDE (duration_seconds);
CREATE INDEX time_entries_task_idx ON time_entries (tenant_id, task_id) WHERE task_id IS NOT NULL;
CREATE INDEX time_entries_tenant_start_idx ON time_entries (tenant_id, start_time DESC, id DESC);

-- At most one running timer per employee. A unique index on the partitioned table would have to
-- include start_time and so could not express this; a small guard table can.
CREATE TABLE running_timers (
    tenant_id     uuid NOT NULL,
    employee_id   uuid NOT NULL,
    time_entry_id uuid NOT NULL,
    start_time    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, employee_id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE activity_samples (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    employee_id     uuid NOT NULL,
    time_entry_id   uuid,
    interval_start  timestamptz NOT NULL,
    interval_end    timestamptz NOT NULL,
    keyboard_events integer NOT NULL DEFAULT 0 CHECK (keyboard_events >= 0),
    mouse_events    integer NOT NULL DEFAULT 0 CHECK (mouse_events >= 0),
    active_seconds  integer NOT NULL DEFAULT 0 CHECK (active_seconds >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id, interval_start),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
    CHECK (interval_end > interval_start)
) PARTITION BY RANGE (interval_start);
CREATE INDEX activity_samples_employee_idx ON activity_samples (tenant_id, employee_id, interval_start DESC);

CREATE TABLE screenshots (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    employee_id   uuid NOT NULL,
    time_entry_id uuid,
    captured_at   timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'PROCESSING', 'PROCESSED', 'FAILED')),
    blob_key      text,
    thumbnail_key text,
    width         integer CHECK (width > 0),
    height        integer CHECK (height > 0),
    blurred       boolean NOT NULL DEFAULT false,
    failure       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    PRIMARY KEY (tenant_id, id, captured_at),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (captured_at);
CREATE INDEX screenshots_employee_idx ON screenshots (tenant_id, employee_id, captured_at DESC);
CREATE INDEX screenshots_unfinished_idx ON screenshots (status, created_at) WHERE status IN ('PENDING', 'PROCESSING');

--bun:split

-- ensure_monthly_partitions creates the missing monthly partitions of parent covering
-- [from_month, to_month] and returns how many it created. Concurrent callers are safe: a
-- partition created by another session in the meantime counts as present.
CREATE FUNCTION ensure_monthly_partitions(parent regclass, from_month date, to_month date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month   date := date_trunc('month', from_month)::date;
    created integer := 0;
    name    text;
BEGIN
    WHILE month <= to_month LOOP
        name := format('%s_y%sm%s', parent::text, to_char(month, 'YYYY'), to_char(month, 'MM'));
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                               name, parent, month::timestamptz, (month + interval '1 month')::timestamptz);
                created := created + 1;
            EXCEPTION WHEN duplicate_table THEN
                NULL;
            END;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN created;
END;
$$;

--bun:split

SELECT ensure_monthly_partitions(p::regclass,
                                 (date_trunc('month', now()) - interval '24 months')::date,
                                 (date_trunc('month', now()) + interval '6 months')::date)
FROM unnest(ARRAY['time_entries', 'activity_samples', 'screenshots']) AS p;
