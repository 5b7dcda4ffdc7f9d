package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/workingtracker/api/store"
)

// auditCmd is `audit verify [--tenant SLUG]`: it recomputes every tenant's audit chain (or
// one's) and exits non-zero naming the first broken entry of each broken chain.
func auditCmd(ctx context.Context, e *env, stdout io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("%w: audit verify [--tenant SLUG]", errUsage)
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	slug := fs.String("tenant", "", "verify this tenant's chain only (default: every tenant's)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	s, err := e.openStore(ctx, store.Opts{})
	if err != nil {
		return err
	}
	defer s.Close()
	tenants, err := s.AuditTenants(ctx, *slug)
	if err != nil {
		return err
	}
	var broken []error
	for _, t := range tenants {
		v, err := s.VerifyAudit(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("verify %s: %w", t.Slug, err)
		}
		if v.Break != nil {
			b := v.Break
			id := "missing"
			if b.ID != uuid.Nil {
				id = b.ID.String()
			}
			fmt.Fprintf(stdout, "%s: BROKEN at seq %d (entry %s): %s\n", t.Slug, b.Seq, id, b.Problem)
			broken = append(broken, fmt.Errorf("tenant %s (%s): seq %d, entry %s: %s", t.Slug, t.ID, b.Seq, id, b.Problem))
			continue
		}
		from := "the first entry"
		if v.Anchored {
			from = "a retention anchor"
		}
		fmt.Fprintf(stdout, "%s: %d entries verified (seq %d to %d, from %s)\n", t.Slug, v.Entries, v.First, v.Last, from)
	}
	if len(broken) > 0 {
		return fmt.Errorf("audit chain broken: %w", errors.Join(broken...))
	}
	return nil
}
