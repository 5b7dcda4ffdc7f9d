package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

func writeManifest(t *testing.T, format string, ops ...map[string]string) string {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"format": format, "version": 1, "operations": ops})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "manifest.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return path
}

func manifestEntry(name, typ, body string) map[string]string {
	return map[string]string{"id": store.OperationID(body), "name": name, "type": typ, "body": body}
}

// TestOperationsCommand: `operations push` registers a manifest all or none, pushing it again
// changes nothing, and `operations list` shows each operation with its owner, hash and use.
func TestOperationsCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testdb.URL(t)
	s, err := store.Open(ctx, dbURL, store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	getenv := envFor(t, map[string]string{"DATABASE_URL": dbURL})
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"operations"}, args...), getenv, &out, io.Discard)
		return out.String(), err
	}
	me := manifestEntry("Me", "query", "query Me { me { id name } }")
	team := manifestEntry("Team", "query", "query Team($first: Int!) { employees(first: $first) { nodes { id } } }")
	const format = "apollo-persisted-query-manifest"

	out, err := cli("push", "--tenant", "acme", writeManifest(t, format, me, team))
	require.NoError(t, err)
	require.Contains(t, out, "Me v1 query "+me["id"])
	require.Contains(t, out, "2 operations registered")
	// Which operations BI keys may run is security configuration: the push is audited, in the
	// transaction that registers (a refused push, below, records nothing).
	require.Equal(t, []string{"operations.push SYSTEM workingtracker operations push"}, commandTrail(t, s, "acme"))

	t.Run("PushingAgainChangesNothing", func(t *testing.T) {
		out, err := cli("push", "--tenant", "acme", writeManifest(t, format, team, me))
		require.NoError(t, err)
		require.Contains(t, out, "Team v1 query "+team["id"])
	})
	t.Run("BadHashRegistersNothing", func(t *testing.T) {
		fresh := manifestEntry("Fresh", "query", "query Fresh { me { email } }")
		bad := manifestEntry("Bad", "query", "query Bad { me { id } }")
		bad["id"] = me["id"]
		_, err := cli("push", "--tenant", "acme", writeManifest(t, format, fresh, bad))
		require.ErrorContains(t, err, "nothing registered")
		require.ErrorContains(t, err, "the id of operation 1 is not the SHA-256")
		out, err := cli("list", "--tenant", "acme")
		require.NoError(t, err)
		require.NotContains(t, out, "Fresh", "all or none")
		require.Len(t, commandTrail(t, s, "acme"), 1, "a push that changes nothing, or is refused, records nothing")
	})
	t.Run("NotAManifest", func(t *testing.T) {
		_, err := cli("push", "--tenant", "acme", writeManifest(t, "something-else", me))
		require.ErrorContains(t, err, "apollo-persisted-query-manifest")
		_, err = cli("push", "--tenant", "nope", writeManifest(t, format, me))
		require.ErrorContains(t, err, `tenant "nope"`)
		_, err = cli("push", writeManifest(t, format, me))
		require.ErrorIs(t, err, errUsage)
	})
	t.Run("List", func(t *testing.T) {
		out, err := cli("list", "--tenant", "acme")
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3, out)
		require.Contains(t, lines[0], "LAST USED")
		require.Contains(t, lines[1], "Me")
		require.Contains(t, lines[1], me["id"])
		require.Contains(t, lines[1], "operations push")
		require.Contains(t, lines[2], "Team")
	})
}
