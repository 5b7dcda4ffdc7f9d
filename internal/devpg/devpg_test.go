package devpg_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/devpg"
)

func TestEnsureRefusesAFolderPreparedBySomeoneElse(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	// Reachable by the server's user, as .data is (testing makes its folders private).
	require.NoError(t, os.Chmod(filepath.Dir(parent), 0o755))
	require.NoError(t, os.Chmod(parent, 0o755))
	elsewhere := t.TempDir()

	link := filepath.Join(parent, "linked")
	require.NoError(t, os.Symlink(elsewhere, link))
	_, err := devpg.Ensure(context.Background(), devpg.Opts{Dir: link, Port: 1, Database: "x"})
	require.ErrorContains(t, err, "not a private folder")

	open := filepath.Join(parent, "open")
	require.NoError(t, os.Mkdir(open, 0o777))
	require.NoError(t, os.Chmod(open, 0o777))
	_, err = devpg.Ensure(context.Background(), devpg.Opts{Dir: open, Port: 1, Database: "x"})
	require.ErrorContains(t, err, "not a private folder")
}
