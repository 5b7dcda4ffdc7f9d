package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// testMasterKey is a well-formed PII_MASTER_KEY (32 bytes of "k").
const testMasterKey = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="

func TestKeysGenerate(t *testing.T) {
	t.Parallel()
	// Needs no configuration at all: it makes the first key of a production deployment.
	nothing := func(string) string { return "" }
	generate := func() string {
		var stdout bytes.Buffer
		require.NoError(t, run(context.Background(), []string{"keys", "generate"}, nothing, &stdout, io.Discard))
		key := strings.TrimSpace(stdout.String())
		raw, err := base64.StdEncoding.DecodeString(key)
		require.NoError(t, err)
		require.Len(t, raw, pii.MasterKeyBytes)
		return key
	}
	require.NotEqual(t, generate(), generate())
}

// TestProductionNeedsPIIMasterKey: serve, worker and keys refuse to start in production without
// a master key (seed never runs in production: TestProductionNeverSeeds).
func TestProductionNeedsPIIMasterKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	withKey := productionEnv(t, url)
	without := func(k string) string {
		if k == "PII_MASTER_KEY" {
			return ""
		}
		return withKey(k)
	}
	for _, args := range [][]string{{"serve"}, {"worker"}, {"keys", "status"}, {"keys", "rotate"}} {
		t.Run(args[0]+strings.Join(args[1:], ""), func(t *testing.T) {
			err := run(ctx, args, without, io.Discard, io.Discard)
			require.ErrorContains(t, err, "PII_MASTER_KEY (or PII_MASTER_KEY_FILE) is required in production")
			require.NotErrorIs(t, err, errUsage, "exit status 1")
		})
	}
	err := run(ctx, []string{"serve"}, func(k string) string {
		if k == "PII_MASTER_KEY" {
			return "c2hvcnQ="
		}
		return withKey(k)
	}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "PII_MASTER_KEY must decode to 32 bytes, not 5")
}

// TestDevelopmentMasterKey: development keeps a generated master key under DATA_DIR (0600), the
// same across restarts.
func TestDevelopmentMasterKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	getenv := envFor(t, map[string]string{"DATABASE_URL": url})
	s, err := store.Open(ctx, url, store.Opts{MaxConns: 2})
	require.NoError(t, err)
	defer s.Close()
	tenant, err := s.CreateTenant(ctx, "acme", "Acme")
	require.NoError(t, err)
	open := func() *pii.Keyring {
		e, err := loadEnv(getenv)
		require.NoError(t, err)
		k, err := e.openKeyring(s)
		require.NoError(t, err)
		return k
	}
	row := uuid.New()
	ct, err := open().Encrypt(ctx, tenant.ID, row, pii.SSN, "123-45-6789")
	require.NoError(t, err)
	info, err := os.Stat(filepath.Join(getenv("DATA_DIR"), "pii-master-key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	pt, err := open().Decrypt(ctx, tenant.ID, row, pii.SSN, ct)
	require.NoError(t, err, "the next start reads the same key")
	require.Equal(t, "123-45-6789", pt)
}

// TestKeysCommands: status counts values per key; rotate makes a new primary and enqueues the
// re-encryption, which a worker process does; retire refuses the primary, a key values still
// use and any key right after a rotation, then removes the unused old key.
func TestKeysCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	getenv := envFor(t, map[string]string{"DATABASE_URL": url, "WORKERS": "1", "METRICS_ADDR": "127.0.0.1:0",
		"WORKER_SHUTDOWN_TIMEOUT": "2s"})
	runOK := func(args ...string) string {
		t.Helper()
		var stdout bytes.Buffer
		require.NoError(t, run(ctx, args, getenv, &stdout, io.Discard), args)
		return stdout.String()
	}
	runErr := func(args ...string) error {
		t.Helper()
		err := run(ctx, args, getenv, io.Discard, io.Discard)
		require.Error(t, err, args)
		return err
	}
	require.Contains(t, runOK("seed", "--anchor", "2026-06-30"), "2 tenants")

	// Every acme employee gets an SSN, encrypted with the development master key.
	s, err := store.Open(ctx, url, store.Opts{MaxConns: 2})
	require.NoError(t, err)
	defer s.Close()
	e, err := loadEnv(getenv)
	require.NoError(t, err)
	keyring, err := e.openKeyring(s)
	require.NoError(t, err)
	acme, err := s.TenantBySlug(ctx, "acme")
	require.NoError(t, err)
	scope := store.Scope{TenantID: acme.ID}
	employees, err := s.EmployeeCiphertexts(ctx, scope)
	require.NoError(t, err)
	require.NotEmpty(t, employees)
	for id := range employees {
		ct, err := keyring.Encrypt(ctx, acme.ID, id, pii.SSN, "123-45-"+id.String()[:4])
		require.NoError(t, err)
		require.NoError(t, s.WriteEmployeeCiphertexts(ctx, scope, store.PIICiphertexts{EmployeeID: id, SSN: ct}))
	}
	first, err := keyring.PrimaryKeyID(ctx, acme.ID)
	require.NoError(t, err)
	k1 := itoa(first)

	// A tenant with no personal data yet has no keys (the seed gives both demo tenants some).
	_, err = s.CreateTenant(ctx, "initech", "Initech")
	require.NoError(t, err)

	status := runOK("keys", "status")
	require.Contains(t, status, "acme: primary "+k1+", keys "+k1+", primary since")
	require.Regexp(t, `ssn_ciphertext +key `+k1+` +\d+ values \(primary\)`, status)
	require.Regexp(t, `globex: primary \d+, keys \d+, primary since`, status)
	require.NotContains(t, status, "globex: primary "+k1, "each tenant has keys of its own")
	require.Contains(t, status, "initech: no keys yet")

	rotated := runOK("keys", "rotate", "--tenant", "acme")
	m := regexp.MustCompile(`acme: new primary key (\d+) \(was ` + k1 + `\)`).FindStringSubmatch(rotated)
	require.NotNil(t, m, rotated)
	k2 := m[1]
	require.Regexp(t, `acme: re-encryption job \d+ enqueued`, rotated)
	require.Contains(t, runOK("keys", "reencrypt", "--tenant", "acme"), "already queued or running")
	require.Regexp(t, `ssn_ciphertext +key `+k1+` +\d+ values\n`, runOK("keys", "status", "--tenant", "acme"),
		"nothing moved before a worker runs")

	// Retiring: never the primary; nothing right after a rotation (instances may still encrypt
	// under the old primary for a minute); never a key values use.
	err = runErr("keys", "retire", k2, "--tenant", "acme")
	require.ErrorContains(t, err, "the primary key cannot be retired")
	require.NotErrorIs(t, err, errUsage)
	require.ErrorContains(t, runErr("keys", "retire", k1), "changed too recently")
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), acme.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE pii_keysets SET rotated_at = now() - interval '1 hour'`)
		return err
	}))
	err = runErr("keys", "retire", k1, "--tenant", "acme")
	require.ErrorContains(t, err, "key "+k1+" not retired: the key still encrypts stored values")
	require.NotErrorIs(t, err, errUsage)

	// A worker process re-encrypts.
	workerCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(workerCtx, []string{"worker"}, getenv, io.Discard, io.Discard) }()
	waitForJob(t, url, "pii_reencrypt", "completed")
	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not stop")
	}
	status = runOK("keys", "status", "--tenant", "acme")
	require.Regexp(t, `ssn_ciphertext +key `+k2+` +\d+ values \(primary\)`, status)
	require.NotContains(t, status, "key "+k1+" ")
	require.NotContains(t, status, "values under other keys")

	require.Equal(t, "acme: key "+k1+" retired\n", runOK("keys", "retire", k1))
	require.Contains(t, runOK("keys", "status", "--tenant", "acme"), "primary "+k2+", keys "+k2+",")
	// Rotations and retirements are audited in the tenant's trail; refused ones record nothing.
	require.Equal(t, []string{"keys.rotate SYSTEM workingtracker keys rotate", "keys.retire SYSTEM workingtracker keys retire " + k1},
		commandTrail(t, s, "acme"))
	stored, err := s.EmployeeCiphertexts(ctx, scope)
	require.NoError(t, err)
	for id, c := range stored {
		pt, err := keyring.Decrypt(ctx, acme.ID, id, pii.SSN, c.SSN)
		require.NoError(t, err)
		require.Equal(t, "123-45-"+id.String()[:4], pt)
	}

	for _, args := range [][]string{{"keys"}, {"keys", "frobnicate"}, {"keys", "retire"}, {"keys", "retire", "abc"},
		{"keys", "status", "extra"}, {"keys", "generate", "now"}} {
		require.ErrorIs(t, runErr(args...), errUsage, args)
	}
	require.ErrorContains(t, runErr("keys", "rotate", "--tenant", "nope"), `tenant "nope"`)
	require.ErrorContains(t, runErr("keys", "retire", "12345"), "no tenant has key 12345")
	require.ErrorContains(t, runErr("keys", "retire", "12345", "--tenant", "globex"), "tenant globex has no key 12345")
}

func itoa(id uint32) string { return strconv.FormatUint(uint64(id), 10) }
