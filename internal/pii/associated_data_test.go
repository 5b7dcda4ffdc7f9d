package pii

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestAssociatedDataIsStable holds associatedData, built without intermediate strings, to the
// bytes every stored ciphertext was made with: a change would make them all undecryptable.
func TestAssociatedDataIsStable(t *testing.T) {
	t.Parallel()
	for range 100 {
		tenant, row := uuid.New(), uuid.New()
		for field, col := range column {
			ad, err := associatedData(tenant, row, field)
			require.NoError(t, err)
			require.Equal(t, "workingtracker/pii/v1\x00"+tenant.String()+"\x00employees\x00"+col+"\x00"+row.String(), string(ad))
		}
	}
	_, err := associatedData(uuid.New(), uuid.New(), "NAME")
	require.Error(t, err)
}
