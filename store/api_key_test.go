package store_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/store"
)

func TestAPIKeyWellFormed(t *testing.T) {
	t.Parallel()
	ok := store.APIKeyPrefix + strings.Repeat("A", 43)
	require.True(t, store.APIKeyWellFormed(ok))
	for _, bad := range []string{ok + "A", ok[:len(ok)-1], "xyz_" + strings.Repeat("A", 43),
		store.APIKeyPrefix + strings.Repeat("!", 43)} {
		require.False(t, store.APIKeyWellFormed(bad), bad)
	}
}
