package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// Screenshot blob intents (migration 20261207000600): a writer records one before it writes a
// screenshot's blobs, so that the orphan sweeper (jobs.SweepScreenshotBlobsArgs) finds the few
// screenshots that may have blobs without a row by reading this table, never by listing the
// bucket. The upload's intent is deleted with the row's commit (CreateScreenshot); the
// processing job's stays until the sweeper, past the orphan age, sees whether the row is there.

// ScreenshotBlobIntent names a screenshot whose blobs were being written.
type ScreenshotBlobIntent struct {
	TenantID, ScreenshotID uuid.UUID
}

// MaxDueScreenshotBlobIntents bounds one DueScreenshotBlobIntents call (the database function
// clamps it too).
const MaxDueScreenshotBlobIntents = 1000

// RecordScreenshotBlobIntent records, in its own transaction, that the scope's screenshot id is
// about to have blobs written; a second record restarts its age (a retried processing job).
func (s *Store) RecordScreenshotBlobIntent(ctx context.Context, scope Scope, id uuid.UUID) error {
	// Bookkeeping before an upload's blob, not the upload: not its audit entry's transaction.
	_, err := inTx(unaudited(ctx), s, scope, func(tx *Store) (struct{}, error) {
		_, err := tx.db.NewRaw(`INSERT INTO screenshot_blob_intents (tenant_id, screenshot_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id, screenshot_id) DO UPDATE SET created_at = EXCLUDED.created_at`,
			scope.TenantID, id, s.now().UTC()).Exec(ctx)
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("record screenshot blob intent: %w", err)
	}
	return nil
}

// DeleteScreenshotBlobIntent deletes the scope's intent for id (its blobs are gone, or its row
// committed).
func (s *Store) DeleteScreenshotBlobIntent(ctx context.Context, scope Scope, id uuid.UUID) error {
	_, err := inTx(unaudited(ctx), s, scope, func(tx *Store) (struct{}, error) {
		_, err := tx.db.NewRaw(`DELETE FROM screenshot_blob_intents WHERE tenant_id = ? AND screenshot_id = ?`,
			scope.TenantID, id).Exec(ctx)
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("delete screenshot blob intent: %w", err)
	}
	return nil
}

// DueScreenshotBlobIntents returns up to limit intents of any tenant recorded before olderThan.
// The cross-tenant read is the database function due_screenshot_blob_intents, which returns
// keys only: each is then judged and deleted through a tenant scope.
func (s *Store) DueScreenshotBlobIntents(ctx context.Context, olderThan time.Time, limit int) ([]ScreenshotBlobIntent, error) {
	limit = min(max(limit, 0), MaxDueScreenshotBlobIntents)
	return collect(ctx, s.pool, "due screenshot blob intents",
		`SELECT tenant_id, screenshot_id FROM due_screenshot_blob_intents($1, $2)`,
		[]any{olderThan, limit}, func(row pgx.Row) (ScreenshotBlobIntent, error) {
			var i ScreenshotBlobIntent
			return i, row.Scan(&i.TenantID, &i.ScreenshotID)
		})
}

// ClearScreenshotBlobIntents deletes the scope's intents for ids that are still older than
// olderThan (one recorded again meanwhile, by a processing job's retry, stays), and counts them.
func (s *Store) ClearScreenshotBlobIntents(ctx context.Context, scope Scope, ids []uuid.UUID, olderThan time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	return inTx(ctx, s, scope, func(tx *Store) (int, error) {
		res, err := tx.db.NewRaw(`DELETE FROM screenshot_blob_intents
			WHERE tenant_id = ? AND screenshot_id IN (?) AND created_at < ?`,
			scope.TenantID, bun.In(ids), olderThan).Exec(ctx)
		if err != nil {
			return 0, fmt.Errorf("clear screenshot blob intents: %w", err)
		}
		n, _ := res.RowsAffected()
		return int(n), nil
	})
}
