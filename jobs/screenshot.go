package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gocloud.dev/blob"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/blobs"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/imaging"
	"github.com/workingtracker/api/store"
)

// Blobs is what the screenshot jobs need of blob storage; gocloud's *blob.Bucket implements it
// (file://, s3://, gs://).
type Blobs interface {
	ReadAll(ctx context.Context, key string) ([]byte, error)
	WriteAll(ctx context.Context, key string, p []byte, opts *blob.WriterOptions) error
	Delete(ctx context.Context, key string) error
	ListPage(ctx context.Context, pageToken []byte, pageSize int, opts *blob.ListOptions) ([]*blob.ListObject, []byte, error)
}

// ScreenshotStore is what the screenshot jobs need of the store.
type ScreenshotStore interface {
	// ClaimScreenshot moves PENDING to PROCESSING (changed) and returns the row; NOT_FOUND when
	// the screenshot is gone.
	ClaimScreenshot(ctx context.Context, scope store.Scope, id uuid.UUID, capturedAt time.Time) (*store.Screenshot, bool, error)
	// MarkScreenshotProcessed moves PROCESSING to PROCESSED with the results; changed false
	// (and no row) when the screenshot was not PROCESSING.
	MarkScreenshotProcessed(ctx context.Context, scope store.Scope, id uuid.UUID, capturedAt time.Time,
		r store.ScreenshotResult) (*store.Screenshot, bool, error)
	// MarkScreenshotFailed moves PENDING or PROCESSING to FAILED with a reason.
	MarkScreenshotFailed(ctx context.Context, scope store.Scope, id uuid.UUID, capturedAt time.Time,
		reason string) (*store.Screenshot, bool, error)
	// TenantBlursScreenshots is the tenant's privacy setting.
	TenantBlursScreenshots(ctx context.Context, scope store.Scope) (bool, error)
	// TimeEntryScreenshotsForCleanup lists up to limit screenshots of a (deleted) time entry.
	TimeEntryScreenshotsForCleanup(ctx context.Context, scope store.Scope, timeEntryID uuid.UUID, limit int) ([]*store.Screenshot, error)
	// DeleteScreenshotsByIDs deletes screenshot rows.
	DeleteScreenshotsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) (int, error)
	// ScreenshotsByIDs reads the tenant's screenshots among ids (the sweeper's "does it exist").
	ScreenshotsByIDs(ctx context.Context, scope store.Scope, ids []uuid.UUID) ([]*store.Screenshot, error)
	// ReconcileStore: the screenshots whose processing was interrupted (the reconciliation).
	ReconcileStore
	// SweepStore: the blob intents (the processing job records one; the sweeper reads them).
	SweepStore
}

// Blob keys (internal/blobs.ScreenshotKey): a screenshot's blobs share one folder,
// tenants/<tenant>/screenshots/<id>/: the upload's original (its key is recorded in the row's
// original_key), and the processing job's results under fixed names, so that a job that runs
// twice overwrites its first result.

// ScreenshotKeyPrefix is the folder of a screenshot's blobs.
func ScreenshotKeyPrefix(tenantID, id uuid.UUID) string { return blobs.ScreenshotKey(tenantID, id, "") }

// ScreenshotOriginalKey is where the upload stores the original.
func ScreenshotOriginalKey(tenantID, id uuid.UUID) string {
	return blobs.ScreenshotKey(tenantID, id, blobs.Original)
}

// ScreenshotImageKey is where the processing job stores the fitted JPEG.
func ScreenshotImageKey(tenantID, id uuid.UUID) string {
	return blobs.ScreenshotKey(tenantID, id, blobs.Image)
}

// ScreenshotThumbnailKey is where the processing job stores the thumbnail.
func ScreenshotThumbnailKey(tenantID, id uuid.UUID) string {
	return blobs.ScreenshotKey(tenantID, id, blobs.Thumbnail)
}

// Defaults of ScreenshotPipeline.
const (
	// DefaultMaxImageBytes and DefaultMaxImagePixels are the upload's defaults
	// (MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS): the job checks the original against them again.
	DefaultMaxImageBytes  = 10 << 20
	DefaultMaxImagePixels = 40_000_000
	// DefaultScreenshotTimeout bounds one processing attempt (a 40 MP original takes a few
	// seconds; a 1080p one tens of milliseconds).
	DefaultScreenshotTimeout = 2 * time.Minute
	// DefaultOrphanAge is how old a blob intent must be before the sweeper judges it: far longer
	// than any upload between writing its blob and committing its row, and than a processing
	// attempt (DefaultScreenshotTimeout) between recording its intent and writing its results.
	DefaultOrphanAge = time.Hour
	// DefaultSweepEvery is the sweeper's period; DefaultSweepBatch the intents one round reads
	// (at most store.MaxDueScreenshotBlobIntents), and a run reads at most SweepRounds rounds.
	DefaultSweepEvery = 10 * time.Minute
	DefaultSweepBatch = 1000
)

// ScreenshotPipeline is what the screenshot jobs (processing, the cleanup of a deleted time
// entry's screenshots, the orphan sweeper, the reconciliation of interrupted ones) need. Zero limits take the defaults above.
type ScreenshotPipeline struct {
	Store ScreenshotStore
	Blobs Blobs
	// Publisher is told of every status change after it commits; nil publishes nothing.
	Publisher events.Publisher
	Logger    *slog.Logger
	// MaxBytes and MaxPixels are imaging's limits for the original.
	MaxBytes, MaxPixels int64
	// Timeout bounds one processing attempt (default DefaultScreenshotTimeout).
	Timeout time.Duration
	// OrphanAge, SweepEvery and SweepBatch tune the orphan sweeper.
	OrphanAge  time.Duration
	SweepEvery time.Duration
	SweepBatch int
	// InterruptedAfter, ReconcileEvery and ReconcileBatch tune the reconciliation of
	// screenshots whose processing job is gone (ReconcileScreenshotsArgs).
	InterruptedAfter time.Duration
	ReconcileEvery   time.Duration
	ReconcileBatch   int
}

func (p ScreenshotPipeline) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// publish tells subscribers of shot's new status. Best effort: a failure is logged, the
// transition stands.
func (p ScreenshotPipeline) publish(ctx context.Context, shot *store.Screenshot) {
	if p.Publisher == nil || shot == nil {
		return
	}
	err := p.Publisher.PublishScreenshot(ctx, events.ScreenshotChanged{TenantID: shot.TenantID, ScreenshotID: shot.ID,
		EmployeeID: shot.EmployeeID, Status: shot.Status})
	if err != nil {
		p.logger().WarnContext(ctx, "publish screenshot status", "screenshot_id", shot.ID, "status", shot.Status, "err", err)
	}
}

// screenshotWorker processes an uploaded screenshot: PENDING → PROCESSING → PROCESSED, or
// FAILED with a reason when the image is corrupt (at once) or after the last attempt.
type screenshotWorker struct {
	river.WorkerDefaults[ProcessScreenshotArgs]
	p ScreenshotPipeline
}

// Timeout bounds an attempt (the rescuer leaves a running job alone this long, too).
func (w *screenshotWorker) Timeout(*river.Job[ProcessScreenshotArgs]) time.Duration {
	return orDefault(w.p.Timeout, DefaultScreenshotTimeout)
}

// Work is idempotent: the results have fixed keys and are recorded only by the transition from
// PROCESSING, so an attempt after a crash (or a second run) rewrites the same blobs and changes
// no finished row.
func (w *screenshotWorker) Work(ctx context.Context, job *river.Job[ProcessScreenshotArgs]) error {
	scope, err := TenantScope(job.Args.TenantArgs)
	if err != nil {
		return err
	}
	err = w.processRecovering(ctx, scope, job.Args)
	switch {
	case err == nil:
		return nil
	case apperr.Is(err, apperr.BadUserInput):
		// The original is not an image we can decode: no attempt will do better.
		var appErr *apperr.Error
		errors.As(err, &appErr)
		if failErr := w.fail(ctx, scope, job.Args, appErr.Message); failErr != nil {
			return errors.Join(err, failErr) // retried: the next attempt marks it
		}
		return river.JobCancel(err)
	case stopping(ctx):
		// Shutdown cancelled the attempt: river returns the job to the queue.
		return err
	case job.Attempt >= job.MaxAttempts:
		reason := fmt.Sprintf("processing failed after %d attempts", job.Attempt)
		if failErr := w.fail(ctx, scope, job.Args, reason); failErr != nil {
			return errors.Join(err, failErr)
		}
		return err
	}
	return err
}

// stopping reports whether ctx was cancelled for another reason than the attempt's timeout
// (river's shutdown, or the job cancelled from elsewhere).
func stopping(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded)
}

// processRecovering is process with a panic turned into an error: river would recover it too,
// but then discard the job on its last attempt without this worker marking the row FAILED.
func (w *screenshotWorker) processRecovering(ctx context.Context, scope store.Scope, a ProcessScreenshotArgs) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("processing screenshot %s panicked: %v", a.ScreenshotID, r)
		}
	}()
	return w.process(ctx, scope, a)
}

func (w *screenshotWorker) process(ctx context.Context, scope store.Scope, a ProcessScreenshotArgs) error {
	p := w.p
	shot, changed, err := p.Store.ClaimScreenshot(ctx, scope, a.ScreenshotID, a.CapturedAt)
	if apperr.Is(err, apperr.NotFound) {
		p.logger().InfoContext(ctx, "screenshot to process is gone (deleted)", "screenshot_id", a.ScreenshotID)
		return nil
	}
	if err != nil {
		return err
	}
	if changed {
		p.publish(ctx, shot)
	}
	if shot.Status != store.ScreenshotProcessing {
		return nil // finished by an earlier run
	}
	if p.Blobs == nil {
		return errors.New("screenshot processing: no blob storage configured")
	}
	if shot.OriginalKey == nil {
		return apperr.Invalid("file", "the screenshot has no uploaded file")
	}
	data, err := p.Blobs.ReadAll(ctx, *shot.OriginalKey)
	if err != nil {
		return fmt.Errorf("read original %s: %w", *shot.OriginalKey, err)
	}
	blur, err := p.Store.TenantBlursScreenshots(ctx, scope)
	if err != nil {
		return err
	}
	res, err := imaging.Process(data, imaging.ProcessOpts{
		MaxBytes:  orDefault(p.MaxBytes, DefaultMaxImageBytes),
		MaxPixels: orDefault(p.MaxPixels, DefaultMaxImagePixels),
		Blur:      blur,
	})
	if err != nil {
		return err
	}
	imageKey, thumbKey := ScreenshotImageKey(scope.TenantID, shot.ID), ScreenshotThumbnailKey(scope.TenantID, shot.ID)
	// Before the results: the screenshot may be deleted while they are written (the cleanup of
	// its time entry deletes its blobs, then its row), and results landing after the cleanup's
	// blob deletion would have no row. The intent stays; past the orphan age the sweeper deletes
	// the folder if the row is gone, or just the intent.
	if err := p.Store.RecordScreenshotBlobIntent(ctx, scope, shot.ID); err != nil {
		return err
	}
	jpegOpts := &blob.WriterOptions{ContentType: "image/jpeg"}
	if err := p.Blobs.WriteAll(ctx, imageKey, res.Image.JPEG, jpegOpts); err != nil {
		return fmt.Errorf("write image %s: %w", imageKey, err)
	}
	if err := p.Blobs.WriteAll(ctx, thumbKey, res.Thumbnail.JPEG, jpegOpts); err != nil {
		return fmt.Errorf("write thumbnail %s: %w", thumbKey, err)
	}
	done, changed, err := p.Store.MarkScreenshotProcessed(ctx, scope, shot.ID, a.CapturedAt, store.ScreenshotResult{
		BlobKey: imageKey, ThumbnailKey: thumbKey, Width: res.Image.Width, Height: res.Image.Height,
		ImageBytes: res.Image.Size(), ThumbnailBytes: res.Thumbnail.Size(), Blurred: blur,
	})
	if err != nil {
		return err
	}
	if changed {
		p.publish(ctx, done)
	}
	return nil
}

// failWriteTimeout bounds marking a screenshot FAILED after its attempt's context ended.
const failWriteTimeout = 10 * time.Second

// fail marks the screenshot FAILED with reason (shown to its owner) and publishes it. It runs
// even when the attempt timed out.
func (w *screenshotWorker) fail(ctx context.Context, scope store.Scope, a ProcessScreenshotArgs, reason string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failWriteTimeout)
	defer cancel()
	shot, changed, err := w.p.Store.MarkScreenshotFailed(ctx, scope, a.ScreenshotID, a.CapturedAt, reason)
	if err != nil {
		return fmt.Errorf("mark screenshot failed: %w", err)
	}
	if changed {
		w.p.publish(ctx, shot)
	}
	return nil
}
