package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPIIPresentSQL: the presence bitmask tests every personal data column with its bit.
func TestPIIPresentSQL(t *testing.T) {
	t.Parallel()
	terms := make([]string, len(piiColumns))
	for i, c := range piiColumns {
		terms[i] = fmt.Sprintf("CASE WHEN e.%s IS NULL THEN 0 ELSE %d END", c.ciphertext, c.bit)
		require.Equal(t, int16(1)<<i, c.bit)
	}
	require.Equal(t, "("+strings.Join(terms, " + ")+")::int2", piiPresentSQL)
}
