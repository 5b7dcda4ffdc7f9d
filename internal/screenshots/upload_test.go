package screenshots_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/blobs"
	"github.com/workingtracker/api/internal/screenshots"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// dyingBucket fails every Delete, as a process killed after writing the original would never
// delete it.
type dyingBucket struct{ *blob.Bucket }

func (dyingBucket) Delete(context.Context, string) error { return errors.New("process died") }

// TestUploadIntentsAndSweep: an upload records a blob intent before its original and its
// commit deletes it, so a committed upload is never swept; an upload that dies after its blob
// write leaves the intent, and once it is older than OrphanAge the sweeper deletes the original
// and the intent.
func TestUploadIntentsAndSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	tenant, err := s.CreateTenant(ctx, "intents", "Intents")
	require.NoError(t, err)
	name, email, role := "Ada", uuid.NewString()[:8]+"@intents.example", store.RoleEmployee
	e, err := s.CreateEmployee(ctx, store.Scope{TenantID: tenant.ID}, store.EmployeeParams{Name: &name, Email: &email, Role: &role})
	require.NoError(t, err)
	scope := store.Scope{TenantID: tenant.ID, ActorID: e.ID}
	bucket, err := fileblob.OpenBucket(t.TempDir(), &fileblob.Options{CreateDir: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bucket.Close() })

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := jobs.New(s, jobs.NewWorkers(jobs.Deps{Screenshots: jobs.ScreenshotPipeline{Store: s, Blobs: bucket,
		Logger: logger, OrphanAge: time.Minute}}), jobs.Opts{Workers: 2, Logger: logger, TestOnly: true,
		FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.Shutdown(ctx))
	})
	sweep := func() {
		res, err := client.Enqueue(ctx, jobs.SweepScreenshotBlobsArgs{})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			job, err := client.River().JobGet(ctx, res.Job.ID)
			require.NoError(t, err)
			return job.State == rivertype.JobStateCompleted
		}, 10*time.Second, 10*time.Millisecond)
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewGray(image.Rect(0, 0, 64, 48))))
	file := bytes.NewReader(buf.Bytes())
	capturedAt := time.Now().Add(-time.Minute)
	opts := screenshots.Opts{MaxBytes: 1 << 20, MaxPixels: 1 << 20, Logger: logger}

	committed, err := screenshots.New(s, bucket, client, opts).UploadScreenshot(ctx, scope, file, capturedAt, nil)
	require.NoError(t, err)
	// The commit deleted the upload's intent (graph's TestUploadScreenshot sees none left); the
	// processing job records its own before writing its results.
	require.Eventually(t, func() bool {
		rows, err := s.ScreenshotsByIDs(ctx, scope, []uuid.UUID{committed.ID})
		require.NoError(t, err)
		return rows[0].Status == store.ScreenshotProcessed
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []uuid.UUID{committed.ID}, intentsOf(t, s, tenant.ID, 0))

	// The row's transaction fails (an unknown time entry), and the original is not deleted.
	missing := uuid.New()
	_, err = screenshots.New(s, dyingBucket{bucket}, client, opts).UploadScreenshot(ctx, scope, file, capturedAt, &missing)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
	died := slices.DeleteFunc(intentsOf(t, s, tenant.ID, 0), func(id uuid.UUID) bool { return id == committed.ID })
	require.Len(t, died, 1, "the dead upload's intent stays")
	orphan := blobs.ScreenshotKey(tenant.ID, died[0], blobs.Original)
	exists := func(key string) bool {
		ok, err := bucket.Exists(ctx, key)
		require.NoError(t, err)
		return ok
	}
	require.True(t, exists(orphan))

	sweep()
	require.True(t, exists(orphan), "a young intent is left alone")
	require.Len(t, intentsOf(t, s, tenant.ID, time.Hour), 2)
	sweep()
	require.False(t, exists(orphan), "an old intent without a row: its folder is deleted")
	for _, name := range []string{blobs.Original, blobs.Image, blobs.Thumbnail} {
		require.True(t, exists(blobs.ScreenshotKey(tenant.ID, committed.ID, name)), "a committed upload is never swept")
	}
	require.Empty(t, intentsOf(t, s, tenant.ID, 0))

	// A refused upload that can delete its original deletes its intent too.
	_, err = screenshots.New(s, bucket, client, opts).UploadScreenshot(ctx, scope, file, capturedAt, &missing)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
	require.Empty(t, intentsOf(t, s, tenant.ID, 0))
}

// intentsOf lists the tenant's blob intents, first making them age older (0: as they are).
func intentsOf(t *testing.T, s *store.Store, tenant uuid.UUID, age time.Duration) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var ids []uuid.UUID
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE screenshot_blob_intents SET created_at = created_at - make_interval(secs => $1)
			RETURNING screenshot_id`, age.Seconds())
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	}))
	return ids
}
