package reqid_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/reqid"
)

func TestMiddlewareKeepsOnlyPlainIncomingIDs(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		incoming string
		kept     bool
	}{
		"UUID":         {"0b5a3e4c-8f7d-4c4e-9b1a-2f6d7e8c9a0b", true},
		"GatewayStyle": {"router-1:42.7_x", true},
		"Longest":      {strings.Repeat("a", 128), true},
		"TooLong":      {strings.Repeat("a", 129), false},
		"Spaces":       {"level=ERROR msg=forged", false},
		"Quotes":       {`a"b`, false},
		"None":         {"", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var seen string
			h := reqid.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = reqid.From(r.Context()) }))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set(reqid.Header, c.incoming)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, seen, rec.Header().Get(reqid.Header), "the id used is the id returned")
			require.NotEmpty(t, seen)
			require.Equal(t, c.kept, seen == c.incoming)
		})
	}
}
