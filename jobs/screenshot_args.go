package jobs

import (
	"time"

	"github.com/google/uuid"
)

// ProcessScreenshotArgs process one uploaded screenshot (its worker: screenshot.go). The upload
// inserts it in the transaction of the screenshot's row. CapturedAt locates the row's partition.
type ProcessScreenshotArgs struct {
	TenantArgs
	ScreenshotID uuid.UUID `json:"screenshot_id"`
	CapturedAt   time.Time `json:"captured_at"`
}

// Kind is the job's kind.
func (ProcessScreenshotArgs) Kind() string { return "screenshot_process" }
