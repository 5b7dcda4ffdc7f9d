package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// Screenshot statuses: PENDING → PROCESSING → PROCESSED, or FAILED after the last attempt.
const (
	ScreenshotPending    = "PENDING"
	ScreenshotProcessing = "PROCESSING"
	ScreenshotProcessed  = "PROCESSED"
	ScreenshotFailed     = "FAILED"
)

// Screenshot is a screen capture an employee's agent uploaded. OriginalKey is the upload in
// blob storage; BlobKey and ThumbnailKey are the processing job's results (nil until PROCESSED).
type Screenshot struct {
	bun.BaseModel `bun:"table:screenshots"`

	TenantID       uuid.UUID  `bun:"tenant_id,pk,type:uuid"`
	ID             uuid.UUID  `bun:"id,pk,type:uuid"`
	EmployeeID     uuid.UUID  `bun:"employee_id,type:uuid,notnull"`
	TimeEntryID    *uuid.UUID `bun:"time_entry_id,type:uuid"`
	CapturedAt     time.Time  `bun:"captured_at,notnull"` // part of the primary key (the partition key)
	Status         string     `bun:"status,notnull"`
	OriginalKey    *string    `bun:"original_key"`
	OriginalBytes  *int       `bun:"original_bytes"`
	OriginalFormat *string    `bun:"original_format"`
	BlobKey        *string    `bun:"blob_key"`
	ThumbnailKey   *string    `bun:"thumbnail_key"`
	ImageBytes     *int       `bun:"image_bytes"`
	ThumbnailBytes *int       `bun:"thumbnail_bytes"`
	Width          *int       `bun:"width"`
	Height         *int       `bun:"height"`
	Blurred        bool       `bun:"blurred,notnull"`
	FailureReason  *string    `bun:"failure"`
	CreatedAt      time.Time  `bun:"created_at,notnull"`
	UpdatedAt      time.Time  `bun:"updated_at,notnull"`
	ProcessedAt    *time.Time `bun:"processed_at"`
}

// ScreenshotSizes are the byte sizes of a screenshot's files (GraphQL ScreenshotSizes).
type ScreenshotSizes struct {
	Original  int
	Image     *int
	Thumbnail *int
}

// Sizes are the screenshot's file sizes.
func (s *Screenshot) Sizes() *ScreenshotSizes {
	sz := &ScreenshotSizes{Image: s.ImageBytes, Thumbnail: s.ThumbnailBytes}
	if s.OriginalBytes != nil {
		sz.Original = *s.OriginalBytes
	}
	return sz
}

// Finished reports whether the screenshot reached a final status.
func (s *Screenshot) Finished() bool {
	return s.Status == ScreenshotProcessed || s.Status == ScreenshotFailed
}

// ScreenshotSettings are a tenant's screenshot privacy settings (GraphQL ScreenshotSettings).
type ScreenshotSettings struct {
	Blur bool
}

const screenshotColumns = `s.tenant_id, s.id, s.employee_id, s.time_entry_id, s.captured_at, s.status,
	s.original_key, s.original_bytes, s.original_format, s.blob_key, s.thumbnail_key, s.image_bytes,
	s.thumbnail_bytes, s.width, s.height, s.blurred, s.failure, s.created_at, s.updated_at, s.processed_at`

func scanScreenshot(row pgx.Row) (*Screenshot, error) {
	var s Screenshot
	err := row.Scan(&s.TenantID, &s.ID, &s.EmployeeID, &s.TimeEntryID, &s.CapturedAt, &s.Status,
		&s.OriginalKey, &s.OriginalBytes, &s.OriginalFormat, &s.BlobKey, &s.ThumbnailKey, &s.ImageBytes,
		&s.ThumbnailBytes, &s.Width, &s.Height, &s.Blurred, &s.FailureReason, &s.CreatedAt, &s.UpdatedAt, &s.ProcessedAt)
	return &s, err
}

// ScreenshotsByIDs returns the scope's screenshots among ids, in any order: those of employees
// out of the scope's reach read as absent, as their time entries do. Without captured_at every
// partition's primary key index is probed once per id.
func (s *Store) ScreenshotsByIDs(ctx context.Context, scope Scope, ids []uuid.UUID) ([]*Screenshot, error) {
	return collect(scope.bind(ctx), s.pool, "screenshots by ids",
		`SELECT `+screenshotColumns+` FROM screenshots s WHERE s.tenant_id = $1 AND s.id = ANY($2)
			AND ($3::uuid[] IS NULL OR s.employee_id = ANY($3))`,
		[]any{scope.TenantID, ids, scope.Visible}, scanScreenshot)
}
