// Package health answers the readiness probe: the dependencies answer, the database schema is at
// the binary's version, and the server is not draining for a shutdown. A failing probe takes
// the instance out of its load balancer; liveness (/healthz) stays apart and never fails for a
// dependency.
package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrDraining is readiness while the server shuts down: the load balancer stops sending new
// requests while the ones in flight finish.
var ErrDraining = errors.New("draining: the server is shutting down")

// Readiness is the readiness probe's answer.
type Readiness struct {
	checks   []func(context.Context) error
	draining atomic.Bool
}

// NewReadiness answers ready while every check passes (run in order; the first failure is the
// answer).
func NewReadiness(checks ...func(context.Context) error) *Readiness {
	return &Readiness{checks: checks}
}

// Drain makes every later Check fail with ErrDraining.
func (r *Readiness) Drain() { r.draining.Store(true) }

// Check reports whether the server is ready.
func (r *Readiness) Check(ctx context.Context) error {
	if r.draining.Load() {
		return ErrDraining
	}
	for _, check := range r.checks {
		if err := check(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Migrations is a check that every migration the binary embeds is applied (pending lists the
// ones that are not). A database ahead of the binary — migrated by a newer release during a
// rolling deploy — is ready: migrations keep the previous release working.
func Migrations(pending func(context.Context) ([]string, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		names, err := pending(ctx)
		if err != nil {
			return fmt.Errorf("read migration status: %w", err)
		}
		if len(names) > 0 {
			return fmt.Errorf("the database schema is behind this binary: %d migrations not applied (%s): run `workingtracker migrate up`",
				len(names), strings.Join(names, ", "))
		}
		return nil
	}
}

// Cached remembers check's answer, either way, for ttl: probes of every replica every few
// seconds then cost the database one read per ttl. A check whose context ended (the probe gave
// up) is not remembered.
func Cached(check func(context.Context) error, ttl time.Duration, now func() time.Time) func(context.Context) error {
	if now == nil {
		now = time.Now
	}
	var (
		mu      sync.Mutex
		err     error
		checked time.Time
	)
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !checked.IsZero() && now().Sub(checked) < ttl {
			return err
		}
		e := check(ctx)
		if ctx.Err() != nil {
			return e
		}
		err, checked = e, now()
		return err
	}
}
