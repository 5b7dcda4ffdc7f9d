package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/httpapi"
	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/lists"
	"github.com/workingtracker/api/store"
)

// The contract of tools/rewritelists, which writes some fields of graph/generated.go out without
// graphql.ResolveField: with field middleware installed every field still passes through it, and
// a rewritten field answers exactly as gqlgen's ResolveField does. (The counts of rewritten sites
// and the gqlgen version are pinned in tools/rewritelists/pins_test.go.)

// rewrittenQuery selects the rewritten plain fields (scalars, enums, times, IDs, cursors) and
// rewritten resolver fields (totalCount, department, manager, project, task, employee, and the
// task's project and assignee) of a nested page.
const rewrittenQuery = `{ employees(first: 5) { totalCount edges { cursor node { id name email role status createdAt ` +
	`department { id name } manager { id name } timeEntries(first: 3) { id startTime endTime running billable source ` +
	`description project { id name status billable } task { id title status project { id } assignee { id } } ` +
	`employee { id } } } } } }`

// TestFieldMiddlewareSeesRewrittenFields builds the real GraphQL handler with a field middleware
// that records every field path it sees, as otelgqlgen's spans will: every field of the response
// must have passed through it, the rewritten ones included.
func TestFieldMiddlewareSeesRewrittenFields(t *testing.T) {
	t.Parallel()
	srv, principal := seededServer(t, 5)
	h := httpapi.NewGraphQLServer(srv.Opts)
	var mu sync.Mutex
	seen := map[string]bool{}
	h.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		path := graphql.GetFieldContext(ctx).Path().String()
		mu.Lock()
		seen[path] = true
		mu.Unlock()
		return next(ctx)
	})
	body, err := json.Marshal(map[string]string{"query": rewrittenQuery})
	require.NoError(t, err)
	rec := postAs(h, principal, string(body))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var resp struct {
		Data   map[string]any   `json:"data"`
		Errors []map[string]any `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Empty(t, resp.Errors)

	fields := responsePaths("", resp.Data)
	var bypassed []string
	for _, p := range fields {
		if !seen[p] {
			bypassed = append(bypassed, p)
		}
	}
	if len(bypassed) > 0 {
		slices.Sort(bypassed)
		t.Fatalf("%d of the response's %d fields bypassed the field middleware: %v …", len(bypassed), len(fields),
			bypassed[:min(len(bypassed), 8)])
	}
	// The page is what the test means it to be: rewritten fields of every kind were answered.
	for _, p := range []string{"employees.totalCount", "employees.edges[0].cursor", "employees.edges[0].node.id",
		"employees.edges[0].node.status", "employees.edges[0].node.department.name",
		"employees.edges[0].node.timeEntries[0].startTime", "employees.edges[0].node.timeEntries[0].project.name",
		"employees.edges[0].node.timeEntries[0].employee.id"} {
		require.Contains(t, fields, p)
	}
}

// TestRealHandlerTakesFastPath: the server's own extensions (document limits, budgets, request
// scope, root-field rules) install no field middleware, so rewritten fields take their fast path.
func TestRealHandlerTakesFastPath(t *testing.T) {
	t.Parallel()
	root := newMemoryRoot(1, 1)
	h, principal := root.handler()
	probe := &interceptedProbe{}
	h.Use(probe)
	rec := postAs(h, principal, `{"query":"{ employees(first: 1) { edges { node { id name } } } }"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []bool{false}, probe.seen, "lists.Intercepted per operation")
}

// interceptedProbe records lists.Intercepted for each operation (an OperationContextMutator is
// not a field interceptor itself).
type interceptedProbe struct{ seen []bool }

func (*interceptedProbe) ExtensionName() string                   { return "interceptedProbe" }
func (*interceptedProbe) Validate(graphql.ExecutableSchema) error { return nil }
func (p *interceptedProbe) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p.seen = append(p.seen, lists.Intercepted(oc))
	return nil
}

// TestRewrittenFieldsResolveAsGQLGen runs resolver outcomes through the rewritten fields twice:
// on their fast path (no field middleware) and through gqlgen's own graphql.ResolveField (a
// pass-through field middleware makes them take it). Data, null propagation, error messages,
// paths and codes must be the same.
func TestRewrittenFieldsResolveAsGQLGen(t *testing.T) {
	t.Parallel()
	type outcome struct {
		project    func(ctx context.Context, obj *store.TimeEntry) (*store.Project, error)
		task       func(ctx context.Context, obj *store.TimeEntry) (*store.Task, error)
		totalCount func(ctx context.Context) (int, error)
		want       string // in the response (the outcome really happened)
	}
	for name, c := range map[string]outcome{
		"Value": {want: `"title":"Task of Project A"`},
		// Project! is null: an error at the field, and null up to the nearest nullable parent
		// (here the data: entries, edges and the connection are all non-null).
		"NullOnNonNull": {project: func(context.Context, *store.TimeEntry) (*store.Project, error) { return nil, nil },
			want: `"data":null`},
		"NullOnNullable": {task: func(context.Context, *store.TimeEntry) (*store.Task, error) { return nil, nil },
			want: `"task":null`},
		"Error": {project: func(context.Context, *store.TimeEntry) (*store.Project, error) {
			return nil, errors.New("connection reset")
		}, want: `"internal error"`},
		"ErrorOnNullable": {task: func(context.Context, *store.TimeEntry) (*store.Task, error) {
			return nil, fmt.Errorf("load task: %w", errors.New("connection reset"))
		}, want: `"internal error"`},
		"AppError": {task: func(context.Context, *store.TimeEntry) (*store.Task, error) {
			return nil, apperr.New(apperr.Forbidden, "not your task")
		}, want: `"FORBIDDEN"`},
		"AppErrorOnNonNull": {project: func(context.Context, *store.TimeEntry) (*store.Project, error) {
			return nil, apperr.New(apperr.NotFound, "project not found")
		}, want: `"NOT_FOUND"`},
		"Panic": {project: func(context.Context, *store.TimeEntry) (*store.Project, error) { panic("boom") },
			want: `"internal error"`},
		"PanicOnNullable": {task: func(context.Context, *store.TimeEntry) (*store.Task, error) { panic("boom") },
			want: `"internal error"`},
		"ErrorOnScalar": {totalCount: func(context.Context) (int, error) { return 0, errors.New("count failed") },
			want: `"data":null`},
		// A nil uuid marshals to an error on ID!, which the rewritten ID read leaves to gqlgen.
		"NilID": {project: func(context.Context, *store.TimeEntry) (*store.Project, error) {
			return &store.Project{ID: uuid.Nil, Name: "Nil", Status: "ACTIVE"}, nil
		}, want: `"errors"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := newMemoryRoot(3, 4)
			root.projectFunc, root.taskFunc, root.totalCountFunc = c.project, c.task, c.totalCount
			fast, principal := root.handler()
			gqlgen, _ := root.handler()
			gqlgen.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) })

			body, err := json.Marshal(map[string]string{"query": rewrittenQuery})
			require.NoError(t, err)
			want := postAs(gqlgen, principal, string(body))
			got := postAs(fast, principal, string(body))
			require.Contains(t, want.Body.String(), c.want)
			require.Equal(t, want.Code, got.Code)
			require.Equal(t, normalised(t, want.Body.Bytes()), normalised(t, got.Body.Bytes()))
		})
	}
}

// normalised is a response with its errors in path order (fields resolved concurrently may
// report in any order) and without request ids.
func normalised(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var resp map[string]any
	require.NoError(t, json.Unmarshal(body, &resp), "%s", body)
	errs, _ := resp["errors"].([]any)
	for _, e := range errs {
		if ext, ok := e.(map[string]any)["extensions"].(map[string]any); ok {
			delete(ext, "requestId")
		}
	}
	slices.SortFunc(errs, func(a, b any) int {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		return strings.Compare(string(ja), string(jb))
	})
	return resp
}

// responsePaths lists the path of every field in a response's data, in gqlgen's notation
// (employees.edges[0].node.name), leaving out __typename.
func responsePaths(prefix string, v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k == "__typename" {
				continue
			}
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, p)
			out = append(out, responsePaths(p, child)...)
		}
	case []any:
		for i, child := range v {
			out = append(out, responsePaths(fmt.Sprintf("%s[%d]", prefix, i), child)...)
		}
	}
	return out
}
