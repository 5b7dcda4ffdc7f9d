// Package events carries screenshot status changes from whoever makes them (the processing job,
// the upload) to the subscriptions that watch them, across processes: through Redis pub/sub
// when REDIS_URL is set, in process otherwise.
//
// An event says only which screenshot changed, in which tenant, for which employee, and to what
// status. A subscriber re-reads the row through its own scope before sending anything, so the
// row-level rules are checked per event and a forged or stale event reveals nothing.
package events

import (
	"context"

	"github.com/google/uuid"
)

// ScreenshotChanged is published after a screenshot's status change commits.
type ScreenshotChanged struct {
	TenantID     uuid.UUID `json:"tenant_id"`
	ScreenshotID uuid.UUID `json:"screenshot_id"`
	EmployeeID   uuid.UUID `json:"employee_id"`
	Status       string    `json:"status"`
}

// Publisher sends events to every instance's subscribers. Publishing is best effort: a failure
// is returned for the caller to log and count, and must never fail the write that caused it.
type Publisher interface {
	PublishScreenshot(ctx context.Context, e ScreenshotChanged) error
}
