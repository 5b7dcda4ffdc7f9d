package model

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// MarshalTime writes what strconv.Quote of the RFC 3339 form would, for every representable
// shape: zones, fractions, years before 1000 and after 9999.
func TestMarshalTimeQuotesRFC3339(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{
		time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 9, 0, 0, 123456789, time.FixedZone("x", -5*3600-1800)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 1, time.UTC),
		{},
	} {
		var b bytes.Buffer
		MarshalTime(tm).MarshalGQL(&b)
		if want := strconv.Quote(tm.UTC().Format(time.RFC3339Nano)); b.String() != want {
			t.Errorf("MarshalTime(%v) = %s, want %s", tm, b.String(), want)
		}
	}
}
