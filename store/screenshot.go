package store

import (
	"time"

	"github.com/google/uuid"
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
