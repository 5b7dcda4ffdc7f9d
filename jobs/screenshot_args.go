package jobs

import (
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// ProcessScreenshotArgs is the job that processes an uploaded screenshot; the upload inserts it
// in the transaction that writes the screenshot's row. CapturedAt is the row's partition key.
type ProcessScreenshotArgs struct {
	TenantArgs
	ScreenshotID uuid.UUID `json:"screenshot_id"`
	CapturedAt   time.Time `json:"captured_at"`
}

// Kind names the job in river_job.
func (ProcessScreenshotArgs) Kind() string { return "screenshot_process" }

// InsertOpts: retried with backoff, five attempts in all; one job per screenshot (unique by
// its arguments), so a screenshot is never processed by two jobs.
func (ProcessScreenshotArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}
