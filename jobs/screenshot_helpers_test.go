package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// recorder is a Publisher that keeps what it was told, in order.
type recorder struct {
	mu     sync.Mutex
	events []events.ScreenshotChanged
}

func (r *recorder) PublishScreenshot(_ context.Context, e events.ScreenshotChanged) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

// statuses are the statuses published for screenshot id, in order.
func (r *recorder) statuses(id uuid.UUID) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.ScreenshotID == id {
			out = append(out, e.Status)
		}
	}
	return out
}

// shotBundle is a tenant with an employee and a time entry, a blob bucket, and a job client
// working the service's real workers (jobs.NewWorkers) over both.
type shotBundle struct {
	store    *store.Store
	client   *jobs.Client
	bucket   *blob.Bucket
	dir      string
	events   *recorder
	scope    store.Scope
	employee *store.Employee
	entry    *store.TimeEntry
}

// openBucket opens a file:// bucket over dir, as the service does under DATA_DIR.
func openBucket(t *testing.T, dir string) *blob.Bucket {
	t.Helper()
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// setupShots builds a shotBundle over s (a fresh database when nil); tune may change the
// pipeline (limits, timeouts) and the client's options (Workers 0: insert only).
func setupShots(t *testing.T, s *store.Store, tune func(*jobs.ScreenshotPipeline, *jobs.Opts)) *shotBundle {
	t.Helper()
	ctx := context.Background()
	if s == nil {
		s = testdb.Open(t, store.Opts{})
	}
	b := &shotBundle{store: s, dir: t.TempDir(), events: &recorder{}}
	b.bucket = openBucket(t, b.dir)
	tenant, err := s.CreateTenant(ctx, "shots-"+uuid.NewString()[:8], "Shots")
	require.NoError(t, err)
	b.scope = store.Scope{TenantID: tenant.ID}
	b.employee, b.entry = employeeWithEntry(t, s, b.scope)

	pipeline := jobs.ScreenshotPipeline{Store: s, Blobs: b.bucket, Publisher: b.events,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	opts := jobs.Opts{Workers: 2}
	if tune != nil {
		tune(&pipeline, &opts)
	}
	b.client = startClient(t, s, pipeline, opts)
	s.SetScreenshotCleanup(jobs.ScreenshotCleanup{Jobs: b.client})
	return b
}

// startClient starts a client working jobs.NewWorkers with pipeline, retrying in 10 ms.
func startClient(t *testing.T, s *store.Store, pipeline jobs.ScreenshotPipeline, opts jobs.Opts) *jobs.Client {
	t.Helper()
	return startWorkers(t, s, jobs.Deps{Screenshots: pipeline}, opts)
}

// startWorkers starts a client working jobs.NewWorkers(deps), retrying in 10 ms, shut down
// when the test ends.
func startWorkers(t *testing.T, s *store.Store, deps jobs.Deps, opts jobs.Opts) *jobs.Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.RetryPolicy = fastRetry{}
	opts.FetchCooldown, opts.FetchPollInterval = 5*time.Millisecond, 50*time.Millisecond
	opts.TestOnly = true
	c, err := jobs.New(s, jobs.NewWorkers(deps), opts)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, c.Shutdown(ctx))
	})
	return c
}

func employeeWithEntry(t *testing.T, s *store.Store, scope store.Scope) (*store.Employee, *store.TimeEntry) {
	t.Helper()
	ctx := context.Background()
	e, err := s.CreateEmployee(ctx, scope, store.EmployeeParams{Name: ptr("Grace Hopper"),
		Email: ptr(uuid.NewString()[:8] + "@shots.example"), Role: ptr(store.RoleEmployee)})
	require.NoError(t, err)
	return e, newEntry(t, s, scope, e.ID, time.Now().UTC().Add(-3*time.Hour).Truncate(time.Second))
}

// newEntry records an hour's entry for employee from start, on a project of its own.
func newEntry(t *testing.T, s *store.Store, scope store.Scope, employee uuid.UUID, start time.Time) *store.TimeEntry {
	t.Helper()
	ctx := context.Background()
	p, err := s.CreateProject(ctx, scope, store.ProjectParams{Name: ptr("Project " + uuid.NewString()[:8])})
	require.NoError(t, err)
	_, err = s.AddProjectMember(ctx, scope, p.ID, employee)
	require.NoError(t, err)
	end := start.Add(time.Hour)
	entry, err := s.CreateTimeEntry(ctx, scope, store.TimeEntryParams{EmployeeID: &employee, ProjectID: &p.ID,
		StartTime: &start, EndTime: &end})
	require.NoError(t, err)
	return entry
}

// shotRow is a screenshot row as an upload writes it: PENDING, with its original in the bucket
// (unless original is nil).
type shotRow struct {
	ID         uuid.UUID
	CapturedAt time.Time
}

// insertShot writes a PENDING screenshot of the bundle's employee (attached to entry when
// given) with original stored under its original key, in plain SQL as the upload would.
func (b *shotBundle) insertShot(t *testing.T, original []byte, entry *uuid.UUID) shotRow {
	t.Helper()
	return insertShotRow(t, b.store, b.bucket, b.scope.TenantID, b.employee.ID, original, entry)
}

func insertShotRow(t *testing.T, s *store.Store, bucket *blob.Bucket, tenant, employee uuid.UUID, original []byte,
	entry *uuid.UUID,
) shotRow {
	t.Helper()
	ctx := context.Background()
	row := shotRow{ID: uuid.Must(uuid.NewV7()), CapturedAt: time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)}
	key := jobs.ScreenshotOriginalKey(tenant, row.ID)
	if original != nil {
		require.NoError(t, bucket.WriteAll(ctx, key, original, nil))
	}
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO screenshots (tenant_id, id, employee_id, time_entry_id, captured_at, status,
			original_key, original_bytes, original_format) VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, 'png')`,
			tenant, row.ID, employee, entry, row.CapturedAt, key, len(original))
		return err
	}))
	return row
}

// enqueue inserts the shot's processing job, as the upload does.
func (b *shotBundle) enqueue(t *testing.T, row shotRow) int64 {
	t.Helper()
	return enqueueProcess(t, b.client, b.scope.TenantID, row)
}

func enqueueProcess(t *testing.T, c *jobs.Client, tenant uuid.UUID, row shotRow) int64 {
	t.Helper()
	res, err := c.Enqueue(context.Background(), jobs.ProcessScreenshotArgs{TenantArgs: jobs.TenantArgs{TenantID: tenant},
		ScreenshotID: row.ID, CapturedAt: row.CapturedAt})
	require.NoError(t, err)
	return res.Job.ID
}

// shot reads the screenshot (nil when gone).
func (b *shotBundle) shot(t *testing.T, id uuid.UUID) *store.Screenshot {
	t.Helper()
	rows, err := b.store.ScreenshotsByIDs(context.Background(), b.scope, []uuid.UUID{id})
	require.NoError(t, err)
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}

// keys lists the bucket's keys under prefix, sorted.
func keys(t *testing.T, bucket *blob.Bucket, prefix string) []string {
	t.Helper()
	var out []string
	it := bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(context.Background())
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		out = append(out, o.Key)
	}
	sort.Strings(out)
	return out
}

// waitJob waits for job id to reach state.
func waitJob(t *testing.T, c *jobs.Client, id int64, state rivertype.JobState) *rivertype.JobRow {
	t.Helper()
	return waitForState(t, c, id, state)
}

// screen draws a w x h "screenshot": a desktop gradient with a few windows and text-like bars,
// so that encoders and the blur have detail to work on.
func screen(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Pix[y*img.Stride+x*4] = uint8(x * 255 / w)
			img.Pix[y*img.Stride+x*4+1] = uint8(y * 255 / h)
			img.Pix[y*img.Stride+x*4+2] = 160
			img.Pix[y*img.Stride+x*4+3] = 255
		}
	}
	for i := 0; i < 4; i++ {
		win := image.Rect(w*i/6+20, h*i/7+20, w*i/6+w/2, h*i/7+h/2)
		draw.Draw(img, win, image.NewUniform(color.RGBA{245, 245, 245, 255}), image.Point{}, draw.Src)
		for line := win.Min.Y + 30; line < win.Max.Y-10; line += 14 {
			bar := image.Rect(win.Min.X+10, line, win.Min.X+10+(line*37)%(win.Dx()-20), line+6)
			draw.Draw(img, bar, image.NewUniform(color.RGBA{30, 30, 30, 255}), image.Point{}, draw.Src)
		}
	}
	return img
}

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img))
	return buf.Bytes()
}

func jpegOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}))
	return buf.Bytes()
}

func ptr[T any](v T) *T { return &v }

// sweep runs the orphan sweeper once, to completion.
func (b *shotBundle) sweep(t *testing.T) {
	t.Helper()
	res, err := b.client.Enqueue(context.Background(), jobs.SweepScreenshotBlobsArgs{})
	require.NoError(t, err)
	require.False(t, res.UniqueSkippedAsDuplicate)
	waitJob(t, b.client, res.Job.ID, rivertype.JobStateCompleted)
}

// intents lists the tenant's screenshot blob intents.
func intents(t *testing.T, s *store.Store, tenant uuid.UUID) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var ids []uuid.UUID
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT screenshot_id FROM screenshot_blob_intents ORDER BY created_at`)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	}))
	return ids
}

// ageIntents makes the tenant's intents for ids as old as age.
func ageIntents(t *testing.T, s *store.Store, tenant uuid.UUID, age time.Duration, ids ...uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE screenshot_blob_intents SET created_at = now() - make_interval(secs => $2)
			WHERE screenshot_id = ANY($1)`, ids, age.Seconds())
		if err == nil && int(tag.RowsAffected()) != len(ids) {
			err = fmt.Errorf("aged %d intents of %d", tag.RowsAffected(), len(ids))
		}
		return err
	}))
}
