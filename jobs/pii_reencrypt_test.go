package jobs_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/pii"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// piiBundle is a tenant whose employees hold encrypted values, worked through the application
// role (row-level security binds it, as in production).
type piiBundle struct {
	app     *store.Store
	appURL  string
	master  []byte
	keyring *pii.Keyring
	tenant  uuid.UUID
	// values are the plaintexts by employee, in pii.Fields' order ("" unset).
	values map[uuid.UUID][4]string
	// other is a second tenant with values of its own, which no job of tenant's may touch.
	other       uuid.UUID
	otherValues map[uuid.UUID][4]string
}

func setupPII(tb testing.TB, rows int) *piiBundle {
	tb.Helper()
	ctx := context.Background()
	url := testdb.URL(tb)
	owner, err := store.Open(ctx, url, store.Opts{})
	require.NoError(tb, err)
	tb.Cleanup(owner.Close)
	b := &piiBundle{appURL: testdb.AppRoleURL(tb, url), master: make([]byte, pii.MasterKeyBytes)}
	_, err = rand.Read(b.master)
	require.NoError(tb, err)
	b.app, err = store.Open(ctx, b.appURL, store.Opts{})
	require.NoError(tb, err)
	tb.Cleanup(b.app.Close)
	b.keyring, err = pii.NewKeyring(b.master, b.app)
	require.NoError(tb, err)
	b.tenant, b.values = b.populate(tb, owner, "acme", rows)
	b.other, b.otherValues = b.populate(tb, owner, "globex", 5)
	return b
}

// populate makes a tenant with n employees and their values, encrypted under its first key.
func (b *piiBundle) populate(tb testing.TB, owner *store.Store, slug string, n int) (uuid.UUID, map[uuid.UUID][4]string) {
	tb.Helper()
	ctx := context.Background()
	tenant, err := owner.CreateTenant(ctx, slug, slug)
	require.NoError(tb, err)
	var ids []uuid.UUID
	require.NoError(tb, testdb.AsTenant(ctx, owner.Pool(), tenant.ID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO employees (tenant_id, id, name, email, role)
			SELECT $1, gen_random_uuid(), 'Employee ' || i, 'e' || i || '@`+slug+`.example', 'EMPLOYEE'
			FROM generate_series(1, $2) i RETURNING id`, tenant.ID, n)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	}))
	values := map[uuid.UUID][4]string{}
	scope := store.Scope{TenantID: tenant.ID}
	for i, id := range ids {
		v := [4]string{fmt.Sprintf("%03d-45-%04d", i%900+100, i), fmt.Sprintf("12-%07d", i), "", fmt.Sprintf("DE%020d", i)}
		if i%3 == 0 {
			v[2] = fmt.Sprintf("P%08d", i) // some have no passport: unset values stay unset
		}
		c := store.PIICiphertexts{EmployeeID: id}
		for f, field := range pii.Fields() {
			if v[f] == "" {
				continue
			}
			*c.Columns()[f], err = b.keyring.Encrypt(ctx, tenant.ID, id, field, v[f])
			require.NoError(tb, err)
		}
		require.NoError(tb, b.app.WriteEmployeeCiphertexts(ctx, scope, c))
		values[id] = v
	}
	return tenant.ID, values
}

// check asserts that every value of tenant is under key and decrypts to what was written: no
// row lost, none corrupted. It returns how many rows have a value under key.
func (b *piiBundle) check(t *testing.T, tenant uuid.UUID, values map[uuid.UUID][4]string, key uint32, all bool) int {
	t.Helper()
	ctx := context.Background()
	stored, err := b.app.EmployeeCiphertexts(ctx, store.Scope{TenantID: tenant})
	require.NoError(t, err)
	require.Len(t, stored, len(values), "no row lost")
	moved := 0
	for id, want := range values {
		c := stored[id]
		under := 0
		for f, field := range pii.Fields() {
			ct := *c.Columns()[f]
			if want[f] == "" {
				require.Nil(t, ct, "an unset value stays unset")
				continue
			}
			id2, ok := store.PIIKeyOf(ct)
			require.True(t, ok)
			if id2 == key {
				under++
			}
			got, err := b.keyring.Decrypt(ctx, tenant, id, field, ct)
			require.NoError(t, err)
			require.Equal(t, want[f], got)
		}
		if all {
			require.Equal(t, 4-countEmpty(want), under, "every value of employee %s under key %d", id, key)
		}
		if under > 0 {
			moved++
		}
	}
	return moved
}

func countEmpty(v [4]string) int {
	n := 0
	for _, s := range v {
		if s == "" {
			n++
		}
	}
	return n
}

// TestReencryptionMovesEveryValueToTheNewKey: after a rotation, the job (in another keyring
// instance, as in another process) moves every value of the tenant onto the new primary in
// batches; every value decrypts to what it was; another tenant's rows are not touched; a
// second run finds nothing to do.
func TestReencryptionMovesEveryValueToTheNewKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPII(t, 250)
	otherKey, err := b.keyring.PrimaryKeyID(ctx, b.other)
	require.NoError(t, err)
	next, err := b.keyring.Rotate(ctx, b.tenant)
	require.NoError(t, err)

	worker, err := pii.NewKeyring(b.master, b.app)
	require.NoError(t, err)
	reencryption := jobs.PIIReencryption{Store: b.app, Keys: worker, Batch: 100}
	c := startPIIClient(t, b.app, reencryption, jobs.Opts{Workers: 1})
	res, err := c.Enqueue(ctx, jobs.PIIReencryptArgs{TenantArgs: jobs.TenantArgs{TenantID: b.tenant}})
	require.NoError(t, err)
	waitForState(t, c, res.Job.ID, rivertype.JobStateCompleted)

	require.Equal(t, len(b.values), b.check(t, b.tenant, b.values, next, true))
	require.Equal(t, len(b.otherValues), b.check(t, b.other, b.otherValues, otherKey, true), "another tenant's rows are untouched")

	again, err := reencryption.Run(ctx, b.tenant, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, jobs.ReencryptProgress{Rows: 0, Done: true}, again, "no double work")
}

// TestReencryptionUniquePerTenant: one waiting job per tenant; other tenants get their own.
func TestReencryptionUniquePerTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPII(t, 1)
	c := startPIIClient(t, b.app, jobs.PIIReencryption{}, jobs.Opts{Workers: 0})
	first, err := c.Enqueue(ctx, jobs.PIIReencryptArgs{TenantArgs: jobs.TenantArgs{TenantID: b.tenant}})
	require.NoError(t, err)
	second, err := c.Enqueue(ctx, jobs.PIIReencryptArgs{TenantArgs: jobs.TenantArgs{TenantID: b.tenant}})
	require.NoError(t, err)
	require.True(t, second.UniqueSkippedAsDuplicate, "one waiting job per tenant")
	require.Equal(t, first.Job.ID, second.Job.ID)
	other, err := c.Enqueue(ctx, jobs.PIIReencryptArgs{TenantArgs: jobs.TenantArgs{TenantID: b.other}})
	require.NoError(t, err)
	require.False(t, other.UniqueSkippedAsDuplicate)
}

// startPIIClient starts a client working jobs.NewWorkers with r, retrying in 10 ms.
func startPIIClient(t *testing.T, s *store.Store, r jobs.PIIReencryption, opts jobs.Opts) *jobs.Client {
	t.Helper()
	return startWorkers(t, s, jobs.Deps{PII: r}, opts)
}

// killedPIIEnv makes this test binary a re-encryption worker process (see
// TestKilledReencryptionResumes): the application role's database URL and the master key,
// comma-separated.
const killedPIIEnv = "JOBS_TEST_PII_WORKER"

// TestKilledReencryptionResumes: a worker SIGKILLed in the middle of a batch (the first batch
// committed, the second half re-encrypted in its open transaction) leaves exactly the committed
// rows moved; the rescued job resumes from the rows themselves and finishes: every value under
// the new key, none lost or corrupted.
func TestKilledReencryptionResumes(t *testing.T) {
	if env := os.Getenv(killedPIIEnv); env != "" {
		url, key, _ := strings.Cut(env, ",")
		reencryptUntilKilled(t, url, key)
		return
	}
	t.Parallel()
	ctx := context.Background()
	b := setupPII(t, 250)
	old, err := b.keyring.PrimaryKeyID(ctx, b.tenant)
	require.NoError(t, err)
	next, err := b.keyring.Rotate(ctx, b.tenant)
	require.NoError(t, err)
	inserter := startPIIClient(t, b.app, jobs.PIIReencryption{}, jobs.Opts{Workers: 0})
	res, err := inserter.Enqueue(ctx, jobs.PIIReencryptArgs{TenantArgs: jobs.TenantArgs{TenantID: b.tenant}})
	require.NoError(t, err)

	stalled := killChildAt(t, "TestKilledReencryptionResumes",
		killedPIIEnv+"="+b.appURL+","+base64.StdEncoding.EncodeToString(b.master), "stalled ")
	require.NotEmpty(t, stalled)
	require.Equal(t, killBatch, b.check(t, b.tenant, b.values, next, false),
		"the committed batch is moved, the killed one rolled back")
	require.Equal(t, len(b.values)-killBatch, b.check(t, b.tenant, b.values, old, false))
	job, err := inserter.River().JobGet(ctx, res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateRunning, job.State)

	// The killed process was the leader: end its term now rather than wait for it to lapse.
	_, err = b.app.Pool().Exec(ctx, `DELETE FROM river_leader`)
	require.NoError(t, err)
	time.Sleep(time.Until(job.AttemptedAt.Add(killTimeout + 50*time.Millisecond)))
	worker, err := pii.NewKeyring(b.master, b.app)
	require.NoError(t, err)
	rescuer := startPIIClient(t, b.app, jobs.PIIReencryption{Store: b.app, Keys: worker, Batch: killBatch, Timeout: killTimeout},
		jobs.Opts{Workers: 1, JobTimeout: 200 * time.Millisecond, RescueStuckJobsAfter: 300 * time.Millisecond})
	job = waitForState(t, rescuer, res.Job.ID, rivertype.JobStateCompleted)
	require.Equal(t, 2, job.Attempt)
	require.Contains(t, job.Errors[0].Error, "Stuck job rescued")
	require.Equal(t, len(b.values), b.check(t, b.tenant, b.values, next, true))
}

const (
	killBatch   = 100
	killTimeout = 2 * time.Second // the kind's timeout: the rescuer leaves a job this long
)

// reencryptUntilKilled is the worker process: it re-encrypts until it is half-way through the
// second batch, says so, and waits to be killed (or a minute, should the test die first).
func reencryptUntilKilled(t *testing.T, url, key string) {
	ctx := context.Background()
	s, err := store.Open(ctx, url, store.Opts{})
	require.NoError(t, err)
	master, err := base64.StdEncoding.DecodeString(key)
	require.NoError(t, err)
	keyring, err := pii.NewKeyring(master, s)
	require.NoError(t, err)
	// About three values a row: the first batch needs some 300 encryptions.
	keys := &stallingKeys{Keyring: keyring, after: 450}
	c, err := jobs.New(s, jobs.NewWorkers(jobs.Deps{PII: jobs.PIIReencryption{Store: s, Keys: keys, Batch: killBatch,
		Timeout: killTimeout}}), jobs.Opts{Workers: 1, Logger: slog.New(slog.DiscardHandler), TestOnly: true,
		FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	time.Sleep(time.Minute)
}

// stallingKeys is a keyring whose encryptions stop returning after a number of them.
type stallingKeys struct {
	*pii.Keyring
	after int64
	n     atomic.Int64
	once  sync.Once
}

func (k *stallingKeys) Encrypt(ctx context.Context, tenant, row uuid.UUID, field, plaintext string) ([]byte, error) {
	if n := k.n.Add(1); n > k.after {
		k.once.Do(func() { fmt.Printf("stalled %d\n", n) })
		time.Sleep(time.Minute)
	}
	return k.Keyring.Encrypt(ctx, tenant, row, field, plaintext)
}

// BenchmarkReencryption: rows re-encrypted per second, in batches of DefaultReencryptBatch
// (each row with three or four values): each iteration rotates and moves every row.
func BenchmarkReencryption(b *testing.B) {
	ctx := context.Background()
	const rows = 1000
	p := setupPII(b, rows)
	r := jobs.PIIReencryption{Store: p.app, Keys: p.keyring}
	var moved int
	var elapsed time.Duration
	for b.Loop() {
		_, err := p.keyring.Rotate(ctx, p.tenant)
		require.NoError(b, err)
		started := time.Now()
		progress, err := r.Run(ctx, p.tenant, time.Now().Add(time.Hour))
		elapsed += time.Since(started)
		require.NoError(b, err)
		require.True(b, progress.Done)
		require.Equal(b, rows, progress.Rows)
		moved += progress.Rows
	}
	b.ReportMetric(float64(moved)/elapsed.Seconds(), "rows/s")
}
