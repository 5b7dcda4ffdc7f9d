package metrics

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestOperationNamesAreCapped: the first MaxOperationNames names label their own series, later
// ones are "other" (names already seen keep theirs), and lookups never admit a name.
func TestOperationNamesAreCapped(t *testing.T) {
	t.Parallel()
	names := &boundedNames{max: MaxOperationNames, seen: map[string]struct{}{}}
	op := func(name string) *ast.OperationDefinition { return &ast.OperationDefinition{Name: name} }
	require.Equal(t, OperationOther, names.lookup(op("Early")), "a lookup admits nothing")
	for i := range MaxOperationNames {
		require.Equal(t, fmt.Sprintf("Op%d", i), names.admit(op(fmt.Sprintf("Op%d", i))))
	}
	require.Equal(t, OperationOther, names.admit(op("OneTooMany")))
	require.Equal(t, "Op7", names.admit(op("Op7")), "a name seen before the cap keeps its series")
	require.Equal(t, "Op7", names.lookup(op("Op7")))
	require.Equal(t, OperationAnonymous, names.admit(op("")))
	require.Equal(t, OperationOther, names.admit(nil))
	require.Len(t, names.seen, MaxOperationNames)

	fresh := &boundedNames{max: 10, seen: map[string]struct{}{}}
	require.Equal(t, OperationOther, fresh.admit(op("user@example.com")), "not a GraphQL name")
	require.Equal(t, OperationOther, fresh.admit(op("1abc")))
}

func TestSQLCommand(t *testing.T) {
	t.Parallel()
	for sql, want := range map[string]string{
		"SELECT 1": "select", "  insert into t values ($1)": "insert", "WITH x AS (SELECT 1) SELECT * FROM x": "with",
		"begin": "begin", "(SELECT 1) UNION (SELECT 2)": "select", "SELECTED": "other", "": "other",
		"VACUUM ANALYZE": "other", "delete from t where email = 'a@b.c'": "delete",
	} {
		require.Equal(t, want, sqlCommand(sql), sql)
	}
}
