package graph_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/store"
)

// Relation lists are paged by first like connections: a project with thousands of members
// returns (and costs) first of them, and the statements stay one per level.
const boundedRelations = `{
  projects(first: 100) {
    nodes {
      name
      members(first: 2) { name projects(first: 1) { name } }
      tasks(first: 2) { title dependencies(first: 2) { title } }
    }
  }
}`

func TestRelationListsAreBoundedByFirst(t *testing.T) {
	t.Parallel()
	counts := map[int]int64{}
	for _, n := range []int{3, 60} {
		srv := apitest.New(t, apitest.Opts{})
		c := newCompany(t, srv, "acme", n)
		ctx := context.Background()
		// Project 0's tasks, oldest first: its own, "waits", d0, d1, d2; "waits" depends on the d's.
		waits, err := srv.Store.CreateTask(ctx, c.Scope, store.TaskParams{ProjectID: &c.Projects[0].ID, Title: ptr("waits")})
		require.NoError(t, err)
		var deps []uuid.UUID
		for _, title := range []string{"d0", "d1", "d2"} {
			d, err := srv.Store.CreateTask(ctx, c.Scope, store.TaskParams{ProjectID: &c.Projects[0].ID, Title: ptr(title)})
			require.NoError(t, err)
			deps = append(deps, d.ID)
		}
		_, err = srv.Store.UpdateTask(ctx, c.Scope, waits.ID, store.TaskParams{DependsOn: &deps})
		require.NoError(t, err)

		srv.Statements.Reset()
		var got struct {
			Projects struct {
				Nodes []struct {
					Name    string
					Members []struct {
						Name     string
						Projects []struct{ Name string }
					}
					Tasks []struct {
						Title        string
						Dependencies []struct{ Title string }
					}
				}
			}
		}
		srv.MustData(c.Token, boundedRelations, nil, &got)
		counts[n] = srv.Statements.Count()

		require.Len(t, got.Projects.Nodes, 3)
		for _, p := range got.Projects.Nodes {
			if p.Name == c.Projects[2].Name {
				require.Empty(t, p.Members, "no members")
			} else {
				require.Len(t, p.Members, 2, "%d members, first 2", n)
			}
			for _, m := range p.Members {
				require.Len(t, m.Projects, 1, "member of 2 projects, first 1")
			}
			if p.Name != c.Projects[0].Name {
				require.Len(t, p.Tasks, 1)
				continue
			}
			require.Len(t, p.Tasks, 2, "5 tasks, first 2")
			require.Equal(t, "waits", p.Tasks[1].Title)
			require.Equal(t, []struct{ Title string }{{"d0"}, {"d1"}}, p.Tasks[1].Dependencies, "3 dependencies, first 2, oldest first")
		}
	}
	// projects, members, members' projects, tasks, dependencies.
	require.Equal(t, counts[3], counts[60], "statements for 3 vs 60 members: %v", counts)
	require.LessOrEqual(t, counts[60], int64(5), "statements per request: %v", counts)
}

func TestRelationListCostIsFirst(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 3)
	cost := func(query string) int {
		t.Helper()
		r := srv.Do(c.Token, query, map[string]any{"p": c.Projects[0].ID})
		require.Empty(t, r.Errors)
		var ext struct {
			Cost struct {
				RequestedQueryCost int `json:"requestedQueryCost"`
			} `json:"cost"`
		}
		raw, err := json.Marshal(r.Extensions)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &ext))
		return ext.Cost.RequestedQueryCost
	}
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"MembersFirst", `query($p: ID!) { project(id: $p) { members(first: 7) { id } } }`, 1 + 7},
		{"MembersDefault", `query($p: ID!) { project(id: $p) { members { id } } }`, 1 + 50},
		{"TasksFirst", `query($p: ID!) { project(id: $p) { tasks(first: 3) { dependencies(first: 4) { id } } } }`, 1 + 3*(1+4)},
		{"DependenciesDefault", `query($p: ID!) { project(id: $p) { tasks(first: 1) { dependencies { id } } } }`, 1 + 1*(1+10)},
		{"ProjectsOfMembers", `query($p: ID!) { project(id: $p) { members(first: 2) { projects(first: 5) { id } } } }`, 1 + 2*(1+5)},
		{"ProjectsDefault", `query($p: ID!) { project(id: $p) { members(first: 1) { projects { id } } } }`, 1 + 1*(1+20)},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, cost(tc.query)) })
	}
}

func TestRelationListFirstOutOfRange(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	for name, query := range map[string]string{
		"ErrMembersOver100":       `query($p: ID!) { project(id: $p) { members(first: 101) { id } } }`,
		"ErrTasksNegative":        `query($p: ID!) { project(id: $p) { tasks(first: -1) { id } } }`,
		"ErrDependenciesOver100":  `query($p: ID!) { project(id: $p) { tasks { dependencies(first: 1000) { id } } } }`,
		"ErrEmployeeProjectsOver": `query($p: ID!) { project(id: $p) { members { projects(first: 101) { id } } } }`,
	} {
		t.Run(name, func(t *testing.T) {
			r := srv.Do(c.Token, query, map[string]any{"p": c.Projects[0].ID})
			require.NotEmpty(t, r.Errors)
			require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code(), r.Errors[0].Message)
			require.Equal(t, "first", r.Errors[0].Extensions["field"])
		})
	}
}

// TestMemberSummariesAnswerOnlyWhatTheyRead: Project.members read as summaries (id and name)
// when nothing more is selected on them, in the prefetch of a projects page and in the resolver
// alike — one statement for the level, not two —; a list in the same document that selects more
// (an alias, a fragment) gets full rows, and both lists agree on who and in what order.
func TestMemberSummariesAnswerOnlyWhatTheyRead(t *testing.T) {
	t.Parallel()
	// The prefetch reads one of the two aliased lists; the other is batched from the resolvers,
	// whose batch a loaded machine can split with the default window (as in
	// TestUnprefetchedLevelsBatchAcrossListElements): a generous one, the count still one batch.
	srv := apitest.New(t, apitest.Opts{Loaders: loaders.Opts{Quiet: 20 * time.Millisecond, MaxWait: 5 * time.Second}})
	c := newCompany(t, srv, "acme", 4)
	type member struct{ ID, Name, Email, Role string }
	var got struct {
		Projects struct {
			Nodes []struct {
				Summaries []member
				Full      []member
			}
		}
	}
	for _, q := range []string{
		`{ projects(first: 3) { nodes { summaries: members(first: 3) { __typename id name } full: members(first: 3) { id name email role } } } }`,
		`{ projects(first: 3) { nodes { summaries: members(first: 3) { ...on Employee { id name } } full: members(first: 3) { id ...F } } } }
		fragment F on Employee { name email role }`,
	} {
		srv.Statements.Reset()
		srv.MustData(c.Token, q, nil, &got)
		// projects, then one statement per members loader (summaries, full rows)
		require.Equal(t, int64(3), srv.Statements.Count(), q)
		require.Len(t, got.Projects.Nodes, 3)
		for i, p := range got.Projects.Nodes {
			require.Len(t, p.Full, len(p.Summaries), "project %d", i)
			for k, s := range p.Summaries {
				f := p.Full[k]
				require.Equal(t, f.ID, s.ID)
				require.Equal(t, f.Name, s.Name)
				require.NotEmpty(t, f.Email, "full rows carry the e-mail")
				require.Equal(t, store.RoleEmployee, f.Role)
			}
		}
		require.Len(t, got.Projects.Nodes[0].Summaries, 3, "first: 3 of the project's 4 members")
	}

	// Alone, the summaries cost the same one statement, through the resolver too (a project by id).
	srv.Statements.Reset()
	var one struct{ Project struct{ Members []member } }
	srv.MustData(c.Token, `query($p: ID!) { project(id: $p) { members(first: 2) { id name } } }`,
		map[string]any{"p": c.Projects[0].ID}, &one)
	require.Len(t, one.Project.Members, 2)
	require.Empty(t, one.Project.Members[0].Email)
	require.LessOrEqual(t, srv.Statements.Count(), int64(2), "the project, then its members")
}
