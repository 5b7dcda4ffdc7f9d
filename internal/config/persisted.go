package config

import (
	"errors"
	"fmt"
	"time"
)

// Trusted-document modes (TRUSTED_DOCUMENTS).
const (
	// TrustedDocumentsAPQ (the default): clients may send any operation's text, and automatic
	// persisted queries; registered operations run by id; BI keys run registered operations only.
	TrustedDocumentsAPQ = "apq"
	// TrustedDocumentsOnly: in production every client runs registered operations only (APQ then
	// registers nothing). Development ignores it, so that the playground stays usable.
	TrustedDocumentsOnly = "only"
)

// Persisted configures persisted operations.
type Persisted struct {
	// TrustedDocuments is TRUSTED_DOCUMENTS: TrustedDocumentsAPQ (default) or TrustedDocumentsOnly.
	TrustedDocuments string
	// APQCacheTTL is APQ_CACHE_TTL (default 24h): how long an automatic persisted query stays
	// cached after it was last sent with its text.
	APQCacheTTL time.Duration
}

// RegisteredOnly reports whether every principal must run registered operations only: under
// TRUSTED_DOCUMENTS=only, outside development.
func (c Config) RegisteredOnly() bool {
	return c.Persisted.TrustedDocuments == TrustedDocumentsOnly && !c.Development()
}

func (p *Persisted) fromEnv(getenv func(string) string) error {
	var errs []error
	p.TrustedDocuments = or(getenv("TRUSTED_DOCUMENTS"), TrustedDocumentsAPQ)
	if p.TrustedDocuments != TrustedDocumentsAPQ && p.TrustedDocuments != TrustedDocumentsOnly {
		errs = append(errs, fmt.Errorf("TRUSTED_DOCUMENTS must be %q or %q, not %q", TrustedDocumentsAPQ, TrustedDocumentsOnly,
			p.TrustedDocuments))
	}
	p.APQCacheTTL = 24 * time.Hour
	if v := getenv("APQ_CACHE_TTL"); v != "" {
		var err error
		if p.APQCacheTTL, err = time.ParseDuration(v); err != nil || p.APQCacheTTL <= 0 {
			errs = append(errs, errors.New("APQ_CACHE_TTL must be a positive duration such as 24h"))
		}
	}
	return errors.Join(errs...)
}
