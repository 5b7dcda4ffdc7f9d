package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// Sizes the workloads ask for; the floor asks for exactly the same.
const (
	employeesPageSize  = 50
	latestEntriesLimit = 20
	monthEntriesLimit  = 100
	projectsPageSize   = 50
)

// Workload is one GraphQL operation, the floor's way of fetching the same data, and the check
// every response of either must pass. Request i of a run uses variables i mod cycle, so
// concurrent clients spread over many rows rather than hammering one.
type Workload struct {
	Name  string
	Query string
	cycle int
	// variables of the i-th request (i < cycle); nil for operations without any.
	variables func(i int) map[string]any
	// floor fetches the i-th request's data by hand.
	floor func(ctx context.Context, f *Floor, i int) (any, error)
	// check validates the i-th response body (a GraphQL response: {"data": …, "errors": …}).
	check func(i int, body []byte) error
}

// Workloads are the four operations measured, over fx.
func Workloads(fx Fixture) []Workload {
	return []Workload{employeesPage(), employeeByID(fx), monthOfEntries(fx), projectsPage()}
}

// The response types below are shared by the floor, which marshals them, and by the checks,
// which decode both sides' responses into them. Their JSON is the GraphQL response's, field for
// field, so the two sides' responses can be compared value by value.

type idName struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

type named struct {
	Name string `json:"name"`
}

type titled struct {
	Title string `json:"title"`
}

// Workload 1.

const employeesPageQuery = `query EmployeesPage {
  employees(first: 50) {
    nodes {
      id name
      department { name }
      projects { id name }
      timeEntries(first: 20) { id startTime durationSeconds project { id name } }
    }
  }
}`

type employeesPageData struct {
	Employees employeeNodes `json:"employees"`
}

type employeeNodes struct {
	Nodes []pageEmployee `json:"nodes"`
}

type pageEmployee struct {
	ID          uuid.UUID     `json:"id"`
	Name        string        `json:"name"`
	Department  *named        `json:"department"`
	Projects    []idName      `json:"projects"`
	TimeEntries []latestEntry `json:"timeEntries"`
}

type latestEntry struct {
	ID              uuid.UUID `json:"id"`
	StartTime       time.Time `json:"startTime"`
	DurationSeconds *int      `json:"durationSeconds"`
	Project         *idName   `json:"project"`

	projectID uuid.UUID // floor only: resolved into Project by a later statement
}

func employeesPage() Workload {
	return Workload{
		Name:  "employeesPage",
		Query: employeesPageQuery,
		cycle: 1,
		floor: func(ctx context.Context, f *Floor, _ int) (any, error) { return f.EmployeesPage(ctx) },
		check: func(_ int, body []byte) error {
			d, err := decode[employeesPageData](body)
			if err != nil {
				return err
			}
			if n := len(d.Employees.Nodes); n != employeesPageSize {
				return fmt.Errorf("%d employees, want %d", n, employeesPageSize)
			}
			for _, e := range d.Employees.Nodes {
				switch {
				case e.ID == uuid.Nil || e.Name == "":
					return fmt.Errorf("employee %v: missing id or name", e.ID)
				case e.Projects == nil || e.TimeEntries == nil:
					return fmt.Errorf("employee %v: projects or timeEntries is null", e.ID)
				case len(e.TimeEntries) > latestEntriesLimit:
					return fmt.Errorf("employee %v: %d time entries, want at most %d", e.ID, len(e.TimeEntries), latestEntriesLimit)
				}
				for _, te := range e.TimeEntries {
					if te.ID == uuid.Nil || te.Project == nil || te.Project.ID == uuid.Nil {
						return fmt.Errorf("employee %v: time entry %v lacks an id or a project", e.ID, te.ID)
					}
				}
			}
			return nil
		},
	}
}

// Workload 2.

const employeeQuery = `query Employee($id: ID!) {
  employee(id: $id) { id name email department { name } manager { name } }
}`

type employeeData struct {
	Employee *employeeDetail `json:"employee"`
}

type employeeDetail struct {
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	Department *named    `json:"department"`
	Manager    *named    `json:"manager"`
}

func employeeByID(fx Fixture) Workload {
	ids := fx.EmployeeIDs
	return Workload{
		Name:      "employeeByID",
		Query:     employeeQuery,
		cycle:     len(ids),
		variables: func(i int) map[string]any { return map[string]any{"id": ids[i]} },
		floor: func(ctx context.Context, f *Floor, i int) (any, error) {
			return f.Employee(ctx, ids[i%len(ids)])
		},
		check: func(i int, body []byte) error {
			d, err := decode[employeeData](body)
			if err != nil {
				return err
			}
			want := ids[i%len(ids)]
			switch e := d.Employee; {
			case e == nil:
				return fmt.Errorf("employee %v is null", want)
			case e.ID != want:
				return fmt.Errorf("asked for employee %v, got %v", want, e.ID)
			case e.Name == "" || e.Email == "":
				return fmt.Errorf("employee %v: missing name or email", want)
			}
			return nil
		},
	}
}

// Workload 3.

const monthEntriesQuery = `query MonthEntries($id: ID!, $from: Time!, $to: Time!) {
  timeEntries(filter: {employeeId: $id, from: $from, to: $to}, first: 100) {
    nodes { id startTime endTime project { name } task { title } }
  }
}`

type monthEntriesData struct {
	TimeEntries monthEntryNodes `json:"timeEntries"`
}

type monthEntryNodes struct {
	Nodes []monthEntry `json:"nodes"`
}

type monthEntry struct {
	ID        uuid.UUID  `json:"id"`
	StartTime time.Time  `json:"startTime"`
	EndTime   *time.Time `json:"endTime"`
	Project   *named     `json:"project"`
	Task      *titled    `json:"task"`

	// floor only: resolved into Project and Task by later statements
	projectID uuid.UUID
	taskID    pgtype.UUID
}

func monthOfEntries(fx Fixture) Workload {
	ids, from, to := fx.EmployeeIDs, fx.MonthFrom, fx.MonthTo
	return Workload{
		Name:  "monthEntries",
		Query: monthEntriesQuery,
		cycle: len(ids),
		variables: func(i int) map[string]any {
			return map[string]any{"id": ids[i], "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339)}
		},
		floor: func(ctx context.Context, f *Floor, i int) (any, error) {
			return f.MonthEntries(ctx, ids[i%len(ids)], from, to)
		},
		check: func(i int, body []byte) error {
			d, err := decode[monthEntriesData](body)
			if err != nil {
				return err
			}
			nodes := d.TimeEntries.Nodes
			// The month is a complete one of the seeded year: everyone worked in it.
			if len(nodes) == 0 || len(nodes) > monthEntriesLimit {
				return fmt.Errorf("employee %v: %d entries in %s, want 1..%d", ids[i%len(ids)], len(nodes),
					from.Format("2006-01"), monthEntriesLimit)
			}
			for k, te := range nodes {
				switch {
				case te.StartTime.Before(from) || !te.StartTime.Before(to):
					return fmt.Errorf("entry %v starts at %v, outside [%v, %v)", te.ID, te.StartTime, from, to)
				case k > 0 && te.StartTime.After(nodes[k-1].StartTime):
					return fmt.Errorf("entry %v is out of order (newest first)", te.ID)
				case te.Project == nil || te.Project.Name == "":
					return fmt.Errorf("entry %v has no project", te.ID)
				}
			}
			return nil
		},
	}
}

// Workload 4.

const projectsPageQuery = `query ProjectsPage {
  projects(first: 50) { nodes { id name members { id name } totalHours } }
}`

type projectsPageData struct {
	Projects projectNodes `json:"projects"`
}

type projectNodes struct {
	Nodes []pageProject `json:"nodes"`
}

type pageProject struct {
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	Members    []idName  `json:"members"`
	TotalHours float64   `json:"totalHours"`
}

func projectsPage() Workload {
	return Workload{
		Name:  "projectsPage",
		Query: projectsPageQuery,
		cycle: 1,
		floor: func(ctx context.Context, f *Floor, _ int) (any, error) { return f.ProjectsPage(ctx) },
		check: func(_ int, body []byte) error {
			d, err := decode[projectsPageData](body)
			if err != nil {
				return err
			}
			if n := len(d.Projects.Nodes); n != projectsPageSize {
				return fmt.Errorf("%d projects, want %d", n, projectsPageSize)
			}
			for _, p := range d.Projects.Nodes {
				switch {
				case p.ID == uuid.Nil || p.Name == "":
					return fmt.Errorf("project %v: missing id or name", p.ID)
				case p.Members == nil:
					return fmt.Errorf("project %v: members is null", p.ID)
				case p.TotalHours < 0:
					return fmt.Errorf("project %v: negative totalHours", p.ID)
				}
			}
			return nil
		},
	}
}

// response is a GraphQL response body.
type response[T any] struct {
	Data   *T              `json:"data"`
	Errors json.RawMessage `json:"errors,omitempty"`
}

// decode reads a response body, refusing one with errors or without data: a benchmark that
// counts failures as throughput measures nothing.
func decode[T any](body []byte) (*T, error) {
	var r response[T]
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	if len(r.Errors) > 0 && string(r.Errors) != "null" {
		return nil, fmt.Errorf("response has errors: %s", r.Errors)
	}
	if r.Data == nil {
		return nil, errors.New("response has no data")
	}
	return r.Data, nil
}
