package httpcache_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/httpcache"
)

func schema() *ast.Schema { return graph.NewExecutableSchema(graph.Config{}).Schema() }

// TestAllowListMatchesSchema: every field the allow-list names exists, so a rename cannot leave
// an entry that silently stops applying (the renamed field would be live, which is safe, but the
// list would lie).
func TestAllowListMatchesSchema(t *testing.T) {
	t.Parallel()
	s := schema()
	for _, name := range httpcache.AllowedFields() {
		typ, field, _ := strings.Cut(name, ".")
		def := s.Types[typ]
		require.NotNil(t, def, name)
		require.NotNil(t, def.Fields.ForName(field), name)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	s := schema()
	for name, c := range map[string]struct {
		query string
		vars  map[string]any
		class httpcache.Class
		weak  bool
	}{
		"Productivity": {`query($f: Time!) { productivityReport(filter: {from: $f, to: $f}) { nodes { totalSeconds } freshness { refreshedAt } } }`,
			map[string]any{"f": "2026-01-01T00:00:00Z"}, httpcache.Views, false},
		"ThroughFragments": {`query { ...R } fragment R on Query { productivityReport(filter: {from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z"}) { ... on ProductivityReportConnection { nodes { __typename totalHours } } } }`,
			nil, httpcache.Views, false},
		"StaleSecondsIsWeak": {`{ productivityReport(filter: {from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z"}) { freshness { staleSeconds } } }`,
			nil, httpcache.Views, true},
		"EmployeeProfileIsLive": {`{ productivityReport(filter: {from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z"}) { nodes { employee { id } } } }`,
			nil, httpcache.Live, false},
		"DepartmentIsLive": {`query($d: ID) { productivityReport(filter: {from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", departmentId: $d}) { nodes { totalSeconds } } }`,
			map[string]any{"d": "x"}, httpcache.Live, false},
		"NoDepartment": {`query($d: ID) { productivityReport(filter: {from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", departmentId: $d}) { nodes { totalSeconds } } }`,
			map[string]any{}, httpcache.Views, false},
		"ProjectHours":       {`{ projectHoursReport { nodes { project { id name totalHours } teamSize } } }`, nil, httpcache.ViewsAndProjects, false},
		"ProjectLiveHours":   {`{ projectHoursReport { nodes { project { totalHours(live: true) } } } }`, nil, httpcache.Live, false},
		"ProjectMembers":     {`{ projectHoursReport { nodes { project { members { id } } } } }`, nil, httpcache.Live, false},
		"AnotherRootField":   {`{ productivityReport(filter: {from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z"}) { nodes { totalSeconds } } me { id } }`, nil, httpcache.Live, false},
		"Projects":           {`{ projects { nodes { totalHours } } }`, nil, httpcache.Live, false},
		"Introspection":      {`{ __schema { queryType { name } } }`, nil, httpcache.Live, false},
		"SkippedFieldCounts": {`query($s: Boolean!) { projectHoursReport { nodes { teamSize } } me @skip(if: $s) { id } }`, map[string]any{"s": true}, httpcache.Live, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc, errs := gqlparser.LoadQuery(s, c.query)
			require.Empty(t, errs)
			p := httpcache.Classify(doc.Operations[0], c.vars)
			require.Equal(t, c.class, p.Class)
			require.Equal(t, c.weak, p.Weak)
			if c.class != httpcache.Live {
				require.NotEmpty(t, p.Roles, "the report's role rule is collected")
			}
		})
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	require.True(t, httpcache.Matches(`"a"`, `"a"`))
	require.True(t, httpcache.Matches(`"b", W/"a"`, `"a"`))
	require.True(t, httpcache.Matches(`"a"`, `W/"a"`))
	require.False(t, httpcache.Matches(`*`, `"a"`), "a client without our tag keeps no answer of ours")
	require.False(t, httpcache.Matches(``, `"a"`))
	require.False(t, httpcache.Matches(`"a"`, ``))
	require.False(t, httpcache.Matches(`"ab"`, `"a"`))
}
