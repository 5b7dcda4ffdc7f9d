package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultAuditRetention is AUDIT_RETENTION's default: 400 days, a year and a bit, so that a
// yearly audit always finds the whole previous year.
const DefaultAuditRetention = 400 * 24 * time.Hour

// MinAuditRetention is the shortest retention allowed (the database refuses to drop a partition
// newer than this too).
const MinAuditRetention = 30 * 24 * time.Hour

// Audit configures the audit trail.
type Audit struct {
	// Retention is AUDIT_RETENTION (default 400 days): months of entries wholly older than this
	// are exported to the blob bucket, anchored and dropped by the audit_retention job. A number
	// of days ("400d") or a Go duration ("9600h"); at least 30 days.
	Retention time.Duration
}

func (a *Audit) fromEnv(getenv func(string) string) error {
	a.Retention = DefaultAuditRetention
	v := strings.TrimSpace(getenv("AUDIT_RETENTION"))
	if v == "" {
		return nil
	}
	d, err := parseDays(v)
	if err != nil || d < MinAuditRetention {
		return fmt.Errorf("AUDIT_RETENTION must be at least 30 days, as days (400d) or a duration (9600h), not %q", v)
	}
	a.Retention = d
	return nil
}

// parseDays reads "400d" or a Go duration.
func parseDays(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}
