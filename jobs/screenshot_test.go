package jobs_test

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg" // image.DecodeConfig of the results
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/imaging"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// TestProcessScreenshot: an uploaded screenshot goes PENDING → PROCESSING → PROCESSED, with
// the fitted image and the thumbnail stored under its keys, their dimensions and sizes
// recorded, and each transition published after it commits.
func TestProcessScreenshot(t *testing.T) {
	t.Parallel()
	b := setupShots(t, nil, nil)
	type testCase struct {
		name           string
		original       []byte
		width, height  int // of the stored image
		thumbW, thumbH int
	}
	cases := []testCase{
		// Larger than 1920x1080: fitted, keeping the aspect ratio.
		{"PNG", pngOf(t, screen(2400, 1350)), 1920, 1080, 320, 180},
		// Within the box: kept at its size.
		{"JPEG", jpegOf(t, screen(1920, 1080)), 1920, 1080, 320, 180},
	}
	if raceEnabled { // the same shapes, in fewer pixels
		cases = []testCase{
			{"PNG", pngOf(t, screen(2400, 150)), 1920, 120, 320, 20},
			{"JPEG", jpegOf(t, screen(640, 360)), 640, 360, 320, 180},
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			row := b.insertShot(t, tc.original, &b.entry.ID)
			require.Equal(t, store.ScreenshotPending, b.shot(t, row.ID).Status)
			job := waitJob(t, b.client, b.enqueue(t, row), rivertype.JobStateCompleted)
			require.Equal(t, 1, job.Attempt)

			shot := b.shot(t, row.ID)
			require.Equal(t, store.ScreenshotProcessed, shot.Status)
			require.Nil(t, shot.FailureReason)
			require.False(t, shot.Blurred)
			require.NotNil(t, shot.ProcessedAt)
			require.Equal(t, tc.width, *shot.Width)
			require.Equal(t, tc.height, *shot.Height)
			require.Equal(t, jobs.ScreenshotImageKey(b.scope.TenantID, row.ID), *shot.BlobKey)
			require.Equal(t, jobs.ScreenshotThumbnailKey(b.scope.TenantID, row.ID), *shot.ThumbnailKey)

			img, err := b.bucket.ReadAll(context.Background(), *shot.BlobKey)
			require.NoError(t, err)
			require.Equal(t, len(img), *shot.ImageBytes)
			cfg, format, err := image.DecodeConfig(bytes.NewReader(img))
			require.NoError(t, err)
			require.Equal(t, "jpeg", format)
			require.Equal(t, [2]int{tc.width, tc.height}, [2]int{cfg.Width, cfg.Height})

			thumb, err := b.bucket.ReadAll(context.Background(), *shot.ThumbnailKey)
			require.NoError(t, err)
			require.Equal(t, len(thumb), *shot.ThumbnailBytes)
			cfg, _, err = image.DecodeConfig(bytes.NewReader(thumb))
			require.NoError(t, err)
			require.Equal(t, [2]int{tc.thumbW, tc.thumbH}, [2]int{cfg.Width, cfg.Height})
			require.Less(t, len(thumb), len(img))

			require.Equal(t, []string{store.ScreenshotProcessing, store.ScreenshotProcessed}, b.events.statuses(row.ID),
				"each transition published once, in order")
			for _, e := range b.events.events {
				if e.ScreenshotID == row.ID {
					require.Equal(t, b.scope.TenantID, e.TenantID)
					require.Equal(t, b.employee.ID, e.EmployeeID)
				}
			}
		})
	}
}

// TestProcessScreenshotBlursWhenTheTenantSaysSo: with the tenant's blur setting on, both
// results are blurred and the row says so.
func TestProcessScreenshotBlursWhenTheTenantSaysSo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupShots(t, nil, nil)
	_, err := b.store.Pool().Exec(ctx, `UPDATE tenants SET blur_screenshots = true WHERE id = $1`, b.scope.TenantID)
	require.NoError(t, err)
	original := pngOf(t, screen(640, 360))
	row := b.insertShot(t, original, nil)
	waitJob(t, b.client, b.enqueue(t, row), rivertype.JobStateCompleted)

	shot := b.shot(t, row.ID)
	require.Equal(t, store.ScreenshotProcessed, shot.Status)
	require.True(t, shot.Blurred)
	stored, err := b.bucket.ReadAll(ctx, *shot.BlobKey)
	require.NoError(t, err)
	limits := imaging.ProcessOpts{MaxBytes: jobs.DefaultMaxImageBytes, MaxPixels: jobs.DefaultMaxImagePixels}
	sharp, err := imaging.Process(original, limits)
	require.NoError(t, err)
	limits.Blur = true
	blurred, err := imaging.Process(original, limits)
	require.NoError(t, err)
	require.Equal(t, blurred.Image.JPEG, stored, "the stored image is the blurred one")
	require.NotEqual(t, sharp.Image.JPEG, stored)
	thumb, err := b.bucket.ReadAll(ctx, *shot.ThumbnailKey)
	require.NoError(t, err)
	require.Equal(t, blurred.Thumbnail.JPEG, thumb)
}

// TestProcessScreenshotCorruptImageFailsAtOnce: an original that is no decodable image ends
// FAILED with a reason on the first attempt; the job is cancelled, not retried.
func TestProcessScreenshotCorruptImageFailsAtOnce(t *testing.T) {
	t.Parallel()
	b := setupShots(t, nil, nil)
	good := pngOf(t, screen(640, 360))
	for name, original := range map[string][]byte{
		"Truncated":  good[:len(good)/2], // a valid header, pixels cut short
		"NotAnImage": []byte("#!/bin/sh\necho not a screenshot\n"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			row := b.insertShot(t, original, nil)
			job := waitJob(t, b.client, b.enqueue(t, row), rivertype.JobStateCancelled)
			require.Equal(t, 1, job.Attempt, "no retry")
			shot := b.shot(t, row.ID)
			require.Equal(t, store.ScreenshotFailed, shot.Status)
			require.NotNil(t, shot.FailureReason)
			require.NotEmpty(t, *shot.FailureReason)
			require.NotContains(t, *shot.FailureReason, "tenants/", "no storage detail in a reason its owner reads")
			require.Nil(t, shot.BlobKey)
			require.Equal(t, []string{store.ScreenshotProcessing, store.ScreenshotFailed}, b.events.statuses(row.ID))
			require.Equal(t, []string{jobs.ScreenshotOriginalKey(b.scope.TenantID, row.ID)},
				keys(t, b.bucket, jobs.ScreenshotKeyPrefix(b.scope.TenantID, row.ID)), "no results written")
		})
	}
}

// TestProcessScreenshotTransientFailure: an error no attempt is sure to repeat (the original
// missing from storage, here) is retried with backoff; after the last attempt the screenshot
// is FAILED with a reason and the job discarded.
func TestProcessScreenshotTransientFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupShots(t, nil, nil)

	t.Run("FailedAfterTheLastAttempt", func(t *testing.T) {
		t.Parallel()
		row := b.insertShot(t, nil, nil) // the row names an original that is not there
		job := waitJob(t, b.client, b.enqueue(t, row), rivertype.JobStateDiscarded)
		require.Equal(t, 5, job.Attempt)
		require.Len(t, job.Errors, 5)
		require.Contains(t, job.Errors[0].Error, "read original")
		shot := b.shot(t, row.ID)
		require.Equal(t, store.ScreenshotFailed, shot.Status)
		require.Equal(t, "processing failed after 5 attempts", *shot.FailureReason)
		require.Equal(t, []string{store.ScreenshotProcessing, store.ScreenshotFailed}, b.events.statuses(row.ID))
	})
	t.Run("RecoversOnARetry", func(t *testing.T) {
		t.Parallel()
		row := b.insertShot(t, nil, nil)
		id := b.enqueue(t, row)
		require.Eventually(t, func() bool {
			job, err := b.client.River().JobGet(ctx, id)
			require.NoError(t, err)
			return len(job.Errors) >= 1
		}, 10*time.Second, 5*time.Millisecond)
		// The original arrives (storage was briefly unavailable): a later attempt succeeds.
		require.NoError(t, b.bucket.WriteAll(ctx, jobs.ScreenshotOriginalKey(b.scope.TenantID, row.ID), pngOf(t, screen(320, 200)), nil))
		job := waitJob(t, b.client, id, rivertype.JobStateCompleted)
		require.Greater(t, job.Attempt, 1)
		require.Equal(t, store.ScreenshotProcessed, b.shot(t, row.ID).Status)
		require.Equal(t, []string{store.ScreenshotProcessing, store.ScreenshotProcessed}, b.events.statuses(row.ID),
			"retries publish no transition of their own")
	})
}

// TestProcessScreenshotTwiceLeavesOneResult: a job run again after it finished (river retries a
// completed job here, as after a worker killed between recording and completing) leaves the
// same blobs and row, and publishes nothing more.
func TestProcessScreenshotTwiceLeavesOneResult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupShots(t, nil, nil)
	row := b.insertShot(t, jpegOf(t, screen(640, 360)), nil)
	id := b.enqueue(t, row)
	waitJob(t, b.client, id, rivertype.JobStateCompleted)
	first := b.shot(t, row.ID)
	image1, err := b.bucket.ReadAll(ctx, *first.BlobKey)
	require.NoError(t, err)

	_, err = b.client.River().JobRetry(ctx, id)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		job, err := b.client.River().JobGet(ctx, id)
		require.NoError(t, err)
		return job.State == rivertype.JobStateCompleted && job.Attempt == 2
	}, 10*time.Second, 10*time.Millisecond)

	second := b.shot(t, row.ID)
	require.Equal(t, first, second, "the row is unchanged")
	image2, err := b.bucket.ReadAll(ctx, *second.BlobKey)
	require.NoError(t, err)
	require.Equal(t, image1, image2)
	prefix := jobs.ScreenshotKeyPrefix(b.scope.TenantID, row.ID)
	require.Equal(t, []string{prefix + "image.jpg", prefix + "original", prefix + "thumbnail.jpg"}, keys(t, b.bucket, prefix))
	require.Equal(t, []string{store.ScreenshotProcessing, store.ScreenshotProcessed}, b.events.statuses(row.ID))

	t.Run("UniquePerScreenshot", func(t *testing.T) {
		res, err := b.client.Enqueue(ctx, jobs.ProcessScreenshotArgs{TenantArgs: jobs.TenantArgs{TenantID: b.scope.TenantID},
			ScreenshotID: row.ID, CapturedAt: row.CapturedAt})
		require.NoError(t, err)
		require.True(t, res.UniqueSkippedAsDuplicate, "a second job for the same screenshot is not inserted")
		require.Equal(t, id, res.Job.ID)
	})
}

// TestProcessScreenshotOfAnotherTenant: a job naming another tenant's screenshot (a forged or
// confused job) finds nothing and changes nothing: the worker works in the job's tenant only.
func TestProcessScreenshotOfAnotherTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupShots(t, nil, nil)
	other, err := b.store.CreateTenant(ctx, "other-shots", "Other")
	require.NoError(t, err)
	row := b.insertShot(t, pngOf(t, screen(320, 200)), nil)
	waitJob(t, b.client, enqueueProcess(t, b.client, other.ID, row), rivertype.JobStateCompleted)
	require.Equal(t, store.ScreenshotPending, b.shot(t, row.ID).Status, "untouched")
	require.Empty(t, b.events.statuses(row.ID))

	t.Run("NoTenant", func(t *testing.T) {
		res, err := b.client.Enqueue(ctx, jobs.ProcessScreenshotArgs{ScreenshotID: row.ID, CapturedAt: row.CapturedAt})
		require.NoError(t, err)
		job := waitJob(t, b.client, res.Job.ID, rivertype.JobStateCancelled)
		require.Contains(t, job.Errors[0].Error, jobs.ErrNoTenant.Error())
	})
}

// TestDeleteTimeEntryDeletesItsScreenshots: deleting a time entry enqueues, in its
// transaction, a job that deletes the entry's screenshots and their blobs; other screenshots
// stay.
func TestDeleteTimeEntryDeletesItsScreenshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupShots(t, nil, nil)
	processed := b.insertShot(t, pngOf(t, screen(320, 200)), &b.entry.ID)
	waitJob(t, b.client, b.enqueue(t, processed), rivertype.JobStateCompleted)
	pending := b.insertShot(t, pngOf(t, screen(320, 200)), &b.entry.ID)
	failed := b.insertShot(t, nil, &b.entry.ID) // its original never arrived
	otherEntry := newEntry(t, b.store, b.scope, b.employee.ID, b.entry.StartTime.Add(-4*time.Hour))
	kept := b.insertShot(t, pngOf(t, screen(320, 200)), &otherEntry.ID)
	loose := b.insertShot(t, pngOf(t, screen(320, 200)), nil)

	t.Run("RolledBack", func(t *testing.T) {
		errBoom := context.Canceled
		err := b.store.InTx(ctx, b.scope, func(tx *store.Store) error {
			if _, err := tx.DeleteTimeEntry(ctx, b.scope, b.entry.ID); err != nil {
				return err
			}
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		jobsOf, err := b.client.River().JobList(ctx, river.NewJobListParams().Kinds(jobs.DeleteScreenshotsArgs{}.Kind()))
		require.NoError(t, err)
		require.Empty(t, jobsOf.Jobs, "no job without the deletion")
		require.NotNil(t, b.shot(t, pending.ID))
	})

	_, err := b.store.DeleteTimeEntry(ctx, b.scope, b.entry.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return b.shot(t, processed.ID) == nil && b.shot(t, pending.ID) == nil && b.shot(t, failed.ID) == nil
	}, 10*time.Second, 10*time.Millisecond, "the entry's screenshots are deleted")
	for _, row := range []shotRow{processed, pending, failed} {
		require.Empty(t, keys(t, b.bucket, jobs.ScreenshotKeyPrefix(b.scope.TenantID, row.ID)), "and their blobs")
	}
	for _, row := range []shotRow{kept, loose} {
		require.NotNil(t, b.shot(t, row.ID))
		require.NotEmpty(t, keys(t, b.bucket, jobs.ScreenshotKeyPrefix(b.scope.TenantID, row.ID)))
	}
	list, err := b.client.River().JobList(ctx, river.NewJobListParams().Kinds(jobs.DeleteScreenshotsArgs{}.Kind()))
	require.NoError(t, err)
	require.Len(t, list.Jobs, 1)
	waitJob(t, b.client, list.Jobs[0].ID, rivertype.JobStateCompleted)

	t.Run("Idempotent", func(t *testing.T) {
		_, err := b.client.River().JobRetry(ctx, list.Jobs[0].ID)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			job, err := b.client.River().JobGet(ctx, list.Jobs[0].ID)
			require.NoError(t, err)
			return job.State == rivertype.JobStateCompleted && job.Attempt == 2
		}, 10*time.Second, 10*time.Millisecond, "a second run finds nothing left and succeeds")
	})
	t.Run("EntryWithoutScreenshotsQueuesNothing", func(t *testing.T) {
		_, err := b.store.DeleteTimeEntry(ctx, b.scope, otherEntry.ID)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return b.shot(t, kept.ID) == nil }, 10*time.Second, 10*time.Millisecond)
		lonely := newEntry(t, b.store, b.scope, b.employee.ID, b.entry.StartTime.Add(-8*time.Hour))
		_, err = b.store.DeleteTimeEntry(ctx, b.scope, lonely.ID)
		require.NoError(t, err)
		list, err := b.client.River().JobList(ctx, river.NewJobListParams().Kinds(jobs.DeleteScreenshotsArgs{}.Kind()))
		require.NoError(t, err)
		require.Len(t, list.Jobs, 2, "one job per entry that had screenshots")
	})
}

// TestDeleteTimeEntryWithoutCleanup: a store with no way to delete screenshots refuses to
// delete an entry that has some, rather than leave them behind; an entry without any goes.
func TestDeleteTimeEntryWithoutCleanup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	tenant, err := s.CreateTenant(ctx, "nocleanup", "No cleanup")
	require.NoError(t, err)
	scope := store.Scope{TenantID: tenant.ID}
	employee, entry := employeeWithEntry(t, s, scope)
	bucket := openBucket(t, t.TempDir())
	insertShotRow(t, s, bucket, tenant.ID, employee.ID, []byte("x"), &entry.ID)
	_, err = s.DeleteTimeEntry(ctx, scope, entry.ID)
	require.ErrorContains(t, err, "no screenshot cleanup")
	bare := newEntry(t, s, scope, employee.ID, entry.StartTime.Add(-4*time.Hour))
	_, err = s.DeleteTimeEntry(ctx, scope, bare.ID)
	require.NoError(t, err)
}

// TestSweepOrphanedScreenshotBlobs: the sweeper judges the blob intents older than OrphanAge:
// when the screenshot has no row in the intent's tenant it deletes the blobs of its folder, and
// it deletes the intent either way. It never lists the bucket: a young intent, a screenshot
// with a row, and blobs no intent names are left alone.
func TestSweepOrphanedScreenshotBlobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupShots(t, nil, func(p *jobs.ScreenshotPipeline, _ *jobs.Opts) { p.SweepBatch = 2 })
	write := func(key string) string {
		require.NoError(t, b.bucket.WriteAll(ctx, key, []byte("blob"), nil))
		return key
	}
	other, err := b.store.CreateTenant(ctx, "sweep-other", "Other")
	require.NoError(t, err)
	otherScope := store.Scope{TenantID: other.ID}
	withRow := b.insertShot(t, []byte("original"), nil)
	died, deleted, young, unnamed := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	keep := []string{
		jobs.ScreenshotOriginalKey(b.scope.TenantID, withRow.ID), // a screenshot's blobs, its intent however old
		write(jobs.ScreenshotImageKey(b.scope.TenantID, withRow.ID)),
		write(jobs.ScreenshotOriginalKey(b.scope.TenantID, young)),            // an upload in flight
		write(jobs.ScreenshotOriginalKey(b.scope.TenantID, unnamed)),          // no intent: never looked at
		write("tenants/" + b.scope.TenantID.String() + "/exports/report.csv"), // not a screenshot's
	}
	// A folder whose name extends a swept one's is another folder.
	keep = append(keep, write(strings.TrimSuffix(jobs.ScreenshotKeyPrefix(b.scope.TenantID, died), "/")+"x/original"))
	gone := []string{
		write(jobs.ScreenshotOriginalKey(b.scope.TenantID, died)), // an upload that died before its commit
		write(jobs.ScreenshotImageKey(b.scope.TenantID, deleted)), // results of a screenshot deleted meanwhile
		write(jobs.ScreenshotThumbnailKey(b.scope.TenantID, deleted)),
		// The row exists, but in another tenant: not this folder's.
		write(jobs.ScreenshotOriginalKey(other.ID, withRow.ID)),
	}
	for _, id := range []uuid.UUID{withRow.ID, died, deleted, young} {
		require.NoError(t, b.store.RecordScreenshotBlobIntent(ctx, b.scope, id))
	}
	require.NoError(t, b.store.RecordScreenshotBlobIntent(ctx, otherScope, withRow.ID))
	ageIntents(t, b.store, b.scope.TenantID, 2*time.Hour, withRow.ID, died, deleted)
	ageIntents(t, b.store, other.ID, 2*time.Hour, withRow.ID)

	b.sweep(t)
	for _, k := range gone {
		ok, err := b.bucket.Exists(ctx, k)
		require.NoError(t, err)
		require.False(t, ok, "orphan %s is deleted", k)
	}
	for _, k := range keep {
		ok, err := b.bucket.Exists(ctx, k)
		require.NoError(t, err)
		require.True(t, ok, k)
	}
	require.Equal(t, []uuid.UUID{young}, intents(t, b.store, b.scope.TenantID), "judged intents are cleared, the young one stays")
	require.Empty(t, intents(t, b.store, other.ID))
	list, err := b.client.River().JobList(ctx, river.NewJobListParams().Kinds(jobs.SweepScreenshotBlobsArgs{}.Kind()).First(100))
	require.NoError(t, err)
	require.Len(t, list.Jobs, 1, "one run, several rounds of two, and no follow-up job")

	t.Run("Periodic", func(t *testing.T) {
		require.Len(t, jobs.PeriodicJobs(jobs.Deps{}), 1, "no blob storage, no sweeper")
		require.Len(t, jobs.PeriodicJobs(jobs.Deps{Screenshots: jobs.ScreenshotPipeline{Blobs: b.bucket}}), 2)
	})
}

// TestSweepIsBounded: one run judges at most SweepRounds rounds of SweepBatch intents, oldest
// first; the next run continues.
func TestSweepIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupShots(t, nil, func(p *jobs.ScreenshotPipeline, _ *jobs.Opts) { p.SweepBatch = 2 })
	ids := make([]uuid.UUID, 2*jobs.SweepRounds+3)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		require.NoError(t, b.store.RecordScreenshotBlobIntent(ctx, b.scope, ids[i]))
		require.NoError(t, b.bucket.WriteAll(ctx, jobs.ScreenshotOriginalKey(b.scope.TenantID, ids[i]), []byte("x"), nil))
		ageIntents(t, b.store, b.scope.TenantID, time.Duration(len(ids)-i)*time.Hour+time.Hour, ids[i])
	}
	b.sweep(t)
	rest := ids[2*jobs.SweepRounds:]
	require.ElementsMatch(t, rest, intents(t, b.store, b.scope.TenantID), "the newest three wait for the next run")
	require.Len(t, keys(t, b.bucket, "tenants/"), len(rest))
	b.sweep(t)
	require.Empty(t, intents(t, b.store, b.scope.TenantID))
	require.Empty(t, keys(t, b.bucket, "tenants/"))
}

// TestProcessingRecordsAnIntent: the processing job records an intent before writing results,
// so that results landing after the screenshot's deletion are swept; while the row exists the
// sweep only clears the intent.
func TestProcessingRecordsAnIntent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupShots(t, nil, nil)
	kept := b.insertShot(t, pngOf(t, screen(64, 48)), nil)
	removed := b.insertShot(t, pngOf(t, screen(64, 48)), nil)
	for _, row := range []shotRow{kept, removed} {
		waitJob(t, b.client, b.enqueue(t, row), rivertype.JobStateCompleted)
	}
	require.ElementsMatch(t, []uuid.UUID{kept.ID, removed.ID}, intents(t, b.store, b.scope.TenantID))
	// Deleted as the cleanup would be if the results landed after its blob deletion: the row
	// goes, the blobs stay.
	_, err := b.store.DeleteScreenshotsByIDs(ctx, b.scope, []uuid.UUID{removed.ID})
	require.NoError(t, err)
	b.sweep(t)
	require.Len(t, keys(t, b.bucket, jobs.ScreenshotKeyPrefix(b.scope.TenantID, removed.ID)), 3, "too young to judge")
	ageIntents(t, b.store, b.scope.TenantID, 2*time.Hour, kept.ID, removed.ID)
	b.sweep(t)
	require.Empty(t, keys(t, b.bucket, jobs.ScreenshotKeyPrefix(b.scope.TenantID, removed.ID)))
	require.Len(t, keys(t, b.bucket, jobs.ScreenshotKeyPrefix(b.scope.TenantID, kept.ID)), 3)
	require.Empty(t, intents(t, b.store, b.scope.TenantID))
}

// panickingBlobs panics where the worker reads an original, as a decoder bug would.
type panickingBlobs struct{ jobs.Blobs }

func (panickingBlobs) ReadAll(context.Context, string) ([]byte, error) { panic("decoder bug") }

// TestProcessScreenshotPanicEndsFailed: an attempt that panics counts as a failed attempt, and
// the last one marks the screenshot FAILED rather than leaving it PROCESSING (river would
// recover the panic itself, then discard the job without the worker's last-attempt path).
func TestProcessScreenshotPanicEndsFailed(t *testing.T) {
	t.Parallel()
	b := setupShots(t, nil, func(p *jobs.ScreenshotPipeline, _ *jobs.Opts) { p.Blobs = panickingBlobs{p.Blobs} })
	row := b.insertShot(t, nil, nil)
	job := waitJob(t, b.client, b.enqueue(t, row), rivertype.JobStateDiscarded)
	require.Contains(t, job.Errors[0].Error, "panicked: decoder bug")
	shot := b.shot(t, row.ID)
	require.Equal(t, store.ScreenshotFailed, shot.Status)
	require.Equal(t, []string{store.ScreenshotProcessing, store.ScreenshotFailed}, b.events.statuses(row.ID))
}
