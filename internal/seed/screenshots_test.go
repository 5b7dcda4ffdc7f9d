package seed_test

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg" // the results' headers
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/fileblob"

	"github.com/workingtracker/api/internal/seed"
	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/store"
)

// TestScreenshots: the demo tenant gets screenshots in every state; processed ones have their
// image and thumbnail in blob storage with the sizes the rows record, failed ones a reason.
func TestScreenshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testdb.Open(t, store.Opts{})
	bucket, err := fileblob.OpenBucket(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bucket.Close() })
	_, ok, err := seed.Run(ctx, s.Pool(), seed.Scale{Name: "tiny", Employees: 8, Projects: 2, Months: 1, EntriesPerDay: 1},
		time.Now())
	require.NoError(t, err)
	require.True(t, ok)

	n, err := seed.Screenshots(ctx, s.Pool(), bucket)
	require.NoError(t, err)
	require.Equal(t, 12, n)

	tenant, err := s.TenantBySlug(ctx, seed.DemoTenant)
	require.NoError(t, err)
	var ids []uuid.UUID
	require.NoError(t, testdb.AsTenant(ctx, s.Pool(), tenant.ID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM screenshots`)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	}))
	shots, err := s.ScreenshotsByIDs(ctx, store.Scope{TenantID: tenant.ID}, ids)
	require.NoError(t, err)
	require.Len(t, shots, 12)
	byStatus := map[string]int{}
	for _, shot := range shots {
		byStatus[shot.Status]++
		require.NotNil(t, shot.TimeEntryID)
		original, err := bucket.ReadAll(ctx, *shot.OriginalKey)
		require.NoError(t, err, "every screenshot has its original")
		require.Equal(t, len(original), *shot.OriginalBytes)
		switch shot.Status {
		case store.ScreenshotProcessed:
			for key, size := range map[string]int{*shot.BlobKey: *shot.ImageBytes, *shot.ThumbnailKey: *shot.ThumbnailBytes} {
				data, err := bucket.ReadAll(ctx, key)
				require.NoError(t, err)
				require.Equal(t, size, len(data))
				cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
				require.NoError(t, err)
				require.Equal(t, "jpeg", format)
				if key == *shot.BlobKey {
					require.Equal(t, [2]int{*shot.Width, *shot.Height}, [2]int{cfg.Width, cfg.Height})
				} else {
					require.Equal(t, 320, cfg.Width)
				}
			}
		case store.ScreenshotFailed:
			require.NotNil(t, shot.FailureReason)
			require.Contains(t, *shot.FailureReason, "cannot be decoded")
			require.Nil(t, shot.BlobKey)
		default:
			require.Nil(t, shot.BlobKey)
			require.Nil(t, shot.ProcessedAt)
		}
	}
	require.Equal(t, map[string]int{store.ScreenshotProcessed: 6, store.ScreenshotPending: 2,
		store.ScreenshotProcessing: 2, store.ScreenshotFailed: 2}, byStatus)

	n, err = seed.Screenshots(ctx, s.Pool(), bucket)
	require.NoError(t, err)
	require.Zero(t, n, "seeded once")
}
