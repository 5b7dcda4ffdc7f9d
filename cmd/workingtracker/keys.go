package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// devMasterKeyFile is development's PII master key under DATA_DIR.
const devMasterKeyFile = "pii-master-key"

// openKeyring is the keyring of personal data over s, its tenants' keys wrapped by
// PII_MASTER_KEY (or PII_MASTER_KEY_FILE's): development generates one under DATA_DIR,
// production refuses to start without it.
func (e *env) openKeyring(s *store.Store) (*pii.Keyring, error) {
	key, err := e.masterKey()
	if err != nil {
		return nil, err
	}
	return pii.NewKeyring(key, s)
}

// masterKey is PII_MASTER_KEY, or development's key under DATA_DIR.
func (e *env) masterKey() ([]byte, error) {
	if key := e.cfg.PII.MasterKey; len(key) > 0 {
		return key, nil
	}
	if !e.cfg.Development() {
		return nil, errors.New("PII_MASTER_KEY (or PII_MASTER_KEY_FILE) is required in production: it wraps every tenant's " +
			"keys of employees' personal data (generate one with `workingtracker keys generate`; README, Personal data)")
	}
	return pii.LoadOrCreateMasterKey(filepath.Join(e.cfg.DataDir, devMasterKeyFile))
}

const keysUsage = "keys generate | rotate [--tenant SLUG] | reencrypt [--tenant SLUG] | status [--tenant SLUG] | retire KEYID [--tenant SLUG]"

// keysGenerate prints a fresh master key; it needs no configuration (run before any is read).
func keysGenerate(stdout io.Writer) error {
	key, err := pii.NewMasterKey()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, key)
	return err
}

// keysCmd rotates, reports and retires the tenants' data keys of personal data (README,
// Personal data: rotation procedure).
func keysCmd(ctx context.Context, e *env, logger *slog.Logger, stdout io.Writer, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, keysUsage)
	}
	sub, args := args[0], args[1:]
	if sub == "generate" {
		if len(args) != 0 {
			return fmt.Errorf("%w: keys generate takes no arguments", errUsage)
		}
		return keysGenerate(stdout)
	}
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tenantSlug := fs.String("tenant", "", "tenant slug (default: every tenant)")
	var keyArg string
	if sub == "retire" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		keyArg, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: keys %s: %v", errUsage, sub, err)
	}
	if sub == "retire" && keyArg == "" && fs.NArg() == 1 {
		keyArg = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s", errUsage, keysUsage)
	}
	var retireID uint32
	switch sub {
	case "rotate", "reencrypt", "status":
	case "retire":
		id, err := strconv.ParseUint(keyArg, 10, 32)
		if err != nil {
			return fmt.Errorf("%w: keys retire KEYID: KEYID is a key id as `keys status` prints it", errUsage)
		}
		retireID = uint32(id)
	default:
		return fmt.Errorf("%w: %s", errUsage, keysUsage)
	}
	if _, err := e.masterKey(); err != nil { // refused before anything else
		return err
	}
	s, err := e.openStore(ctx, store.Opts{MaxConns: 4})
	if err != nil {
		return err
	}
	defer s.Close()
	if e.cfg.Development() {
		if _, err := migrateUp(ctx, s); err != nil {
			return err
		}
	}
	keyring, err := e.openKeyring(s)
	if err != nil {
		return err
	}
	tenants, err := keysTenants(ctx, s, *tenantSlug)
	if err != nil {
		return err
	}
	k := keysRun{s: s, keyring: keyring, stdout: stdout}
	switch sub {
	case "rotate", "reencrypt":
		client, err := jobs.New(s, jobs.NewWorkers(jobs.Deps{}), jobs.Opts{Logger: logger}) // inserts only
		if err != nil {
			return err
		}
		k.jobs = client
		return k.forEach(ctx, tenants, func(t *store.Tenant) error { return k.rotate(ctx, t, sub == "rotate") })
	case "status":
		return k.forEach(ctx, tenants, func(t *store.Tenant) error { return k.status(ctx, t) })
	default:
		return k.retire(ctx, tenants, retireID, *tenantSlug != "")
	}
}

// keysTenants is the tenant named slug, or every tenant.
func keysTenants(ctx context.Context, s *store.Store, slug string) ([]*store.Tenant, error) {
	if slug == "" {
		return s.ListTenants(ctx)
	}
	t, err := s.TenantBySlug(ctx, slug)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", slug, err)
	}
	return []*store.Tenant{t}, nil
}

type keysRun struct {
	s       *store.Store
	keyring *pii.Keyring
	jobs    *jobs.Client
	stdout  io.Writer
}

func (k keysRun) forEach(ctx context.Context, tenants []*store.Tenant, fn func(*store.Tenant) error) error {
	var errs []error
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.Slug, err))
		}
	}
	return errors.Join(errs...)
}

// rotate makes a new primary for t (when rotating) and enqueues the re-encryption of t's
// values onto it.
func (k keysRun) rotate(ctx context.Context, t *store.Tenant, rotate bool) error {
	if rotate {
		before, err := k.keyring.Describe(ctx, t.ID)
		if err != nil {
			return err
		}
		id, err := k.keyring.Rotate(commandAudit(ctx, actionKeysRotate, "PIIKeyset", "keys rotate"), t.ID)
		if err != nil {
			return err
		}
		if before == nil {
			fmt.Fprintf(k.stdout, "%s: first key %d\n", t.Slug, id)
		} else {
			fmt.Fprintf(k.stdout, "%s: new primary key %d (was %d)\n", t.Slug, id, before.Primary)
		}
	}
	res, err := k.jobs.Enqueue(ctx, jobs.PIIReencryptArgs{TenantArgs: jobs.TenantArgs{TenantID: t.ID}})
	if err != nil {
		return fmt.Errorf("%w (the rotation stands: run `workingtracker keys reencrypt --tenant %s`)", err, t.Slug)
	}
	if res.UniqueSkippedAsDuplicate {
		fmt.Fprintf(k.stdout, "%s: re-encryption job %d already queued or running (it reads the primary again before each pass)\n",
			t.Slug, res.Job.ID)
	} else {
		fmt.Fprintf(k.stdout, "%s: re-encryption job %d enqueued\n", t.Slug, res.Job.ID)
	}
	return nil
}

// status prints t's keys and how many values of each column each key encrypts.
func (k keysRun) status(ctx context.Context, t *store.Tenant) error {
	info, err := k.keyring.Describe(ctx, t.ID)
	if err != nil {
		return err
	}
	if info == nil {
		fmt.Fprintf(k.stdout, "%s: no keys yet (nothing encrypted)\n", t.Slug)
		return nil
	}
	scope := store.Scope{TenantID: t.ID}
	rotated, err := k.s.PIIKeysetRotatedAt(ctx, scope)
	if err != nil {
		return err
	}
	uses, err := k.s.PIIKeyUses(ctx, scope)
	if err != nil {
		return err
	}
	ids := make([]string, len(info.KeyIDs))
	for i, id := range info.KeyIDs {
		ids[i] = strconv.FormatUint(uint64(id), 10)
	}
	fmt.Fprintf(k.stdout, "%s: primary %d, keys %s, primary since %s\n", t.Slug, info.Primary, strings.Join(ids, " "),
		rotated.UTC().Format(time.RFC3339))
	var pending int64
	for _, u := range uses {
		key, note := strconv.FormatUint(uint64(u.KeyID), 10), ""
		switch {
		case !u.Recognised:
			key, note = "?", " (no key id: not a Tink ciphertext)"
		case u.KeyID == info.Primary:
			note = " (primary)"
		case !slices.Contains(info.KeyIDs, u.KeyID):
			note = " (no such key: undecryptable)"
		}
		if !u.Recognised || u.KeyID != info.Primary {
			pending += u.Values
		}
		fmt.Fprintf(k.stdout, "  %-24s key %-10s %8d values%s\n", u.Column, key, u.Values, note)
	}
	if pending > 0 {
		fmt.Fprintf(k.stdout, "  %d values under other keys than the primary\n", pending)
	}
	return nil
}

// retire removes key id from the tenants that hold it (the one named, or every tenant).
func (k keysRun) retire(ctx context.Context, tenants []*store.Tenant, id uint32, named bool) error {
	retired := 0
	for _, t := range tenants {
		info, err := k.keyring.Describe(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.Slug, err)
		}
		if info == nil || !slices.Contains(info.KeyIDs, id) {
			if named {
				return fmt.Errorf("tenant %s has no key %d (`workingtracker keys status --tenant %s` lists its keys)", t.Slug, id, t.Slug)
			}
			continue
		}
		if err := k.keyring.Retire(commandAudit(ctx, actionKeysRetire, "PIIKeyset", "keys retire "+strconv.FormatUint(uint64(id), 10)), t.ID, id); err != nil {
			if errors.Is(err, store.ErrPIIKeyInUse) {
				return fmt.Errorf("tenant %s: key %d not retired: %w (let the re-encryption job finish, "+
					"or run `workingtracker keys reencrypt --tenant %s`)", t.Slug, id, err, t.Slug)
			}
			return fmt.Errorf("tenant %s: key %d not retired: %w", t.Slug, id, err)
		}
		fmt.Fprintf(k.stdout, "%s: key %d retired\n", t.Slug, id)
		retired++
	}
	if retired == 0 {
		return fmt.Errorf("no tenant has key %d (`workingtracker keys status` lists the keys)", id)
	}
	return nil
}
