package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/devpg"
	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/migrations"
	"github.com/workingtracker/api/store"
)

func migrateCmd(ctx context.Context, e *env, stdout io.Writer, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: migrate up|down|status", errUsage)
	}
	s, err := e.openStore(ctx, store.Opts{})
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := store.NewMigrator(s.DB(), migrations.FS)
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		names, err := m.Up(ctx)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(stdout, "database is up to date")
		}
		for _, n := range names {
			fmt.Fprintln(stdout, "applied", n)
		}
	case "down": // the last group of ours; river's tables too once none of ours is left
		names, err := m.Down(ctx)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(stdout, "nothing to roll back")
		}
		for _, n := range names {
			fmt.Fprintln(stdout, "rolled back", n)
		}
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			switch {
			case s.Applied && s.GroupID == 0: // river's migrations have no group
				state = "applied"
			case s.Applied:
				state = fmt.Sprintf("applied (group %d)", s.GroupID)
			}
			fmt.Fprintf(stdout, "%-40s %s\n", s.Name, state)
		}
	default:
		return fmt.Errorf("%w: migrate up|down|status", errUsage)
	}
	return nil
}

func seedCmd(ctx context.Context, e *env, stdout io.Writer, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	scaleName := fs.String("scale", "small", "small | large")
	anchorFlag := fs.String("anchor", "", "last day of generated data, YYYY-MM-DD (default today, UTC)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	scale, ok := seed.Scales[*scaleName]
	if !ok {
		return fmt.Errorf("%w: --scale must be small or large", errUsage)
	}
	if !e.cfg.Development() {
		return fmt.Errorf("seed writes demo tenants, and production (APP_ENV=%s) never seeds: "+
			"set APP_ENV=development to seed a development database", e.cfg.Env)
	}
	anchor := time.Now().UTC()
	if *anchorFlag != "" {
		var err error
		if anchor, err = time.Parse("2006-01-02", *anchorFlag); err != nil {
			return fmt.Errorf("%w: --anchor: %v", errUsage, err)
		}
	}
	s, err := e.openStore(ctx, store.Opts{})
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := migrateUp(ctx, s); err != nil {
		return err
	}
	blobs, err := e.openBlobs(ctx)
	if err != nil {
		return err
	}
	defer blobs.Close()
	// The demo's employees get fake personal data, encrypted, so that masking shows at once.
	keyring, err := e.openKeyring(s)
	if err != nil {
		return err
	}
	started := time.Now()
	res, seeded, err := seed.RunWithPII(ctx, s.Pool(), scale, anchor, keyring)
	if err != nil {
		return err
	}
	if !seeded {
		fmt.Fprintf(stdout, "tenant %q exists already: nothing seeded\n", seed.DemoTenant)
		return nil
	}
	shots, err := seed.Screenshots(ctx, s.Pool(), blobs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %s in %s: %d tenants, %d employees, %d projects, %d tasks, %d time entries, %d screenshots\n",
		scale.Name, time.Since(started).Round(time.Millisecond), res.Tenants, res.Employees, res.Projects, res.Tasks, res.TimeEntries,
		shots)
	return nil
}

func tokenCmd(ctx context.Context, e *env, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	tenant := fs.String("tenant", seed.DemoTenant, "tenant slug")
	role := fs.String("role", store.RoleAdmin, "role claimed (ADMIN, HR, MANAGER, EMPLOYEE, AUDITOR)")
	user := fs.String("user", "", "employee id (default: the tenant's first employee with --role)")
	mfa := fs.Bool("mfa", false, "claim multi-factor authentication (amr: mfa)")
	ttl := fs.Duration("ttl", 8*time.Hour, "lifetime; negative mints a token that expired that long ago")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if !e.cfg.Development() {
		return errors.New("development tokens are for APP_ENV=development only")
	}
	switch {
	case *ttl == 0:
		return fmt.Errorf("%w: --ttl must not be zero (negative mints an expired token)", errUsage)
	case *ttl < 0 && -*ttl < auth.DefaultClockSkew:
		// Useful to exercise a client's refresh; said aloud, since a typo would mean it too.
		fmt.Fprintf(stderr, "warning: --ttl %s: the token expired %s ago, but servers allow %s of clock skew: "+
			"it is accepted for another %s\n", *ttl, -*ttl, auth.DefaultClockSkew, auth.DefaultClockSkew+*ttl)
	case *ttl < 0:
		fmt.Fprintf(stderr, "warning: --ttl %s: the token expired %s ago; servers refuse it\n", *ttl, -*ttl)
	}
	tok, err := e.mintDevToken(ctx, *tenant, strings.ToUpper(*role), *user, *mfa, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func (e *env) mintDevToken(ctx context.Context, tenantSlug, role, user string, mfa bool, ttl time.Duration) (string, error) {
	s, err := e.openStore(ctx, store.Opts{MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer s.Close()
	return mintWith(ctx, s, e.devSignerPath(), tenantSlug, role, user, mfa, ttl)
}

func mintWith(ctx context.Context, s *store.Store, keyPath, tenantSlug, role, user string, mfa bool, ttl time.Duration) (string, error) {
	t, err := s.TenantBySlug(ctx, tenantSlug)
	if err != nil {
		return "", fmt.Errorf("tenant %q: %w (run `workingtracker seed` first)", tenantSlug, err)
	}
	var employeeID uuid.UUID
	if user != "" {
		if employeeID, err = uuid.Parse(user); err != nil {
			return "", fmt.Errorf("%w: --user must be an employee id", errUsage)
		}
	} else {
		emp, err := s.FirstEmployeeWithRole(ctx, store.Scope{TenantID: t.ID}, role)
		if err != nil {
			return "", err
		}
		employeeID = emp.ID
	}
	signer, err := auth.LoadOrCreateDevSigner(keyPath)
	if err != nil {
		return "", err
	}
	return signer.Mint(auth.TokenParams{Issuer: auth.DevIssuer, Audience: auth.DevAudience, TenantID: t.ID,
		EmployeeID: employeeID, Roles: []string{role}, MFA: mfa, TTL: ttl})
}

func devdbCmd(ctx context.Context, e *env, stdout io.Writer, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: devdb start|stop|url [--fast]", errUsage)
	}
	fs := flag.NewFlagSet("devdb", flag.ContinueOnError)
	fast := fs.Bool("fast", false, "when creating the cluster: no fsync (test clusters)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch args[0] {
	case "start", "url":
		opts := e.devCluster()
		opts.Fast = *fast
		c, err := devpg.Ensure(ctx, opts)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, c.URL())
	case "stop":
		return devpg.Stop(ctx, e.devCluster().Dir)
	default:
		return fmt.Errorf("%w: devdb start|stop|url", errUsage)
	}
	return nil
}
