// Package screenshots accepts screenshot uploads: it checks the image by its content, stores the
// original in blob storage, and writes the PENDING row with its processing job in one
// transaction, cleaning the blob up when that fails, then tells subscribers.
package screenshots

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"gocloud.dev/blob"

	"github.com/workingtracker/api/internal/blobs"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/imaging"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// Store is what uploads need of the store.
type Store interface {
	ValidateScreenshotCapture(capturedAt time.Time) error
	CreateScreenshot(ctx context.Context, scope store.Scope, jobs store.JobInserter, p store.CreateScreenshotParams) (*store.Screenshot, error)
	// RecordScreenshotBlobIntent and DeleteScreenshotBlobIntent: the upload names its
	// screenshot before writing the original, so that the orphan sweeper finds it if the
	// upload dies before its commit (which deletes the intent).
	RecordScreenshotBlobIntent(ctx context.Context, scope store.Scope, id uuid.UUID) error
	DeleteScreenshotBlobIntent(ctx context.Context, scope store.Scope, id uuid.UUID) error
}

// Bucket is where originals go (a *blobs.Bucket).
type Bucket interface {
	NewWriter(ctx context.Context, key string, opts *blob.WriterOptions) (*blob.Writer, error)
	Delete(ctx context.Context, key string) error
}

// Opts configures Uploads.
type Opts struct {
	// MaxBytes and MaxPixels bound an upload (MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS).
	MaxBytes, MaxPixels int64
	// Publisher tells subscribers of the new PENDING screenshot; nil publishes nothing.
	Publisher events.Publisher
	Logger    *slog.Logger
}

// Uploads stores uploaded screenshots (resolvers.ScreenshotUploads).
type Uploads struct {
	store  Store
	bucket Bucket
	jobs   store.JobInserter
	opts   Opts
}

// New returns Uploads over s, writing originals to bucket and jobs through inserter.
func New(s Store, bucket Bucket, inserter store.JobInserter, opts Opts) *Uploads {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Uploads{store: s, bucket: bucket, jobs: inserter, opts: opts}
}

// contentTypes are the stored originals' media types, by format.
var contentTypes = map[imaging.Format]string{imaging.PNG: "image/png", imaging.JPEG: "image/jpeg", imaging.WebP: "image/webp"}

// UploadScreenshot stores file as the scope's own employee's screenshot captured at capturedAt
// (during timeEntryID, when given). In order, each step only once the ones before it passed:
// the capture time's bounds (BAD_USER_INPUT on capturedAt); the image, identified by its
// content and its header's dimensions read without decoding pixels (BAD_USER_INPUT on file:
// not PNG, JPEG or WebP, over MaxBytes or MaxPixels); a blob intent recorded for the new id;
// the original written to the bucket; the row and its job in one transaction, which deletes the
// intent (FORBIDDEN for a principal acting for no employee, or a terminated one; NOT_FOUND for a
// time entry that is not the employee's). When the transaction fails the original is deleted,
// then the intent, so a refused upload leaves nothing behind; an upload that dies before either
// leaves the intent, and the orphan sweeper deletes its original.
func (u *Uploads) UploadScreenshot(ctx context.Context, scope store.Scope, file io.ReadSeeker, capturedAt time.Time,
	timeEntryID *uuid.UUID,
) (*store.Screenshot, error) {
	if err := u.store.ValidateScreenshotCapture(capturedAt); err != nil {
		return nil, err
	}
	// From the start: one Upload variable may feed several aliased uploadScreenshot fields, and
	// the first has read the file to its end.
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind upload: %w", err)
	}
	info, err := imaging.Inspect(file, u.opts.MaxBytes, u.opts.MaxPixels)
	if err != nil {
		return nil, err
	}
	size, err := file.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("measure upload: %w", err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind upload: %w", err)
	}
	id := uuid.Must(uuid.NewV7())
	key := blobs.ScreenshotKey(scope.TenantID, id, blobs.Original)
	// Before the blob: an upload that dies between the write and the commit leaves an intent,
	// and the sweeper deletes its original (jobs.SweepScreenshotBlobsArgs).
	if err := u.store.RecordScreenshotBlobIntent(ctx, scope, id); err != nil {
		return nil, err
	}
	if err := u.write(ctx, key, file, contentTypes[info.Format]); err != nil {
		return nil, err
	}
	shot, err := u.store.CreateScreenshot(ctx, scope, u.jobs, store.CreateScreenshotParams{
		ID: id, EmployeeID: scope.ActorID, TimeEntryID: timeEntryID, CapturedAt: capturedAt,
		OriginalKey: key, OriginalBytes: int(size), OriginalFormat: string(info.Format),
		Job: jobs.ProcessScreenshotArgs{TenantArgs: jobs.TenantArgs{TenantID: scope.TenantID}, ScreenshotID: id, CapturedAt: capturedAt.UTC()},
	})
	if err != nil {
		u.remove(ctx, scope, id, key)
		return nil, err
	}
	if u.opts.Publisher != nil {
		e := events.ScreenshotChanged{TenantID: shot.TenantID, ScreenshotID: shot.ID, EmployeeID: shot.EmployeeID, Status: shot.Status}
		if err := u.opts.Publisher.PublishScreenshot(ctx, e); err != nil {
			u.opts.Logger.WarnContext(ctx, "publish screenshot upload", "err", err, "screenshot_id", shot.ID.String())
		}
	}
	return shot, nil
}

// write copies the original to key. A failed or cancelled write leaves no blob (gocloud's
// writers commit only on a successful Close).
func (u *Uploads) write(ctx context.Context, key string, r io.Reader, contentType string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := u.bucket.NewWriter(ctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("store screenshot original: %w", err)
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel() // abandons the write
		_ = w.Close()
		return fmt.Errorf("store screenshot original: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("store screenshot original: %w", err)
	}
	return nil
}

// remove deletes an original whose row was not written, even when the request was cancelled,
// then its intent. When the blob cannot be deleted the intent stays, for the sweeper.
func (u *Uploads) remove(ctx context.Context, scope store.Scope, id uuid.UUID, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := u.bucket.Delete(ctx, key); err != nil {
		u.opts.Logger.WarnContext(ctx, "delete the original of a refused upload (the sweeper will)", "err", err, "key", key)
		return
	}
	if err := u.store.DeleteScreenshotBlobIntent(ctx, scope, id); err != nil {
		u.opts.Logger.WarnContext(ctx, "delete the blob intent of a refused upload", "err", err, "screenshot_id", id.String())
	}
}
