package seed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gocloud.dev/blob"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/imaging"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// Blobs is where seeded screenshots' files go (gocloud's *blob.Bucket).
type Blobs interface {
	WriteAll(ctx context.Context, key string, p []byte, opts *blob.WriterOptions) error
}

// screenshotStates is the status of each seeded screenshot, in order: every state a client
// may meet, most of them finished.
var screenshotStates = []string{
	store.ScreenshotProcessed, store.ScreenshotProcessed, store.ScreenshotPending, store.ScreenshotProcessed,
	store.ScreenshotProcessing, store.ScreenshotFailed, store.ScreenshotProcessed, store.ScreenshotProcessed,
	store.ScreenshotPending, store.ScreenshotProcessing, store.ScreenshotProcessed, store.ScreenshotFailed,
}

// Screenshot sizes of the seed: small, so seeding stays fast, and 16:9 like a screen.
const seedShotWidth, seedShotHeight = 640, 360

// Screenshots adds screenshots in every state to the demo tenant's latest time entries (one
// each, ten minutes into the entry), their files generated in code and written to blobs under
// the keys the upload and the processing job use: PROCESSED ones with the image and thumbnail
// internal/imaging makes of the original, PENDING and PROCESSING ones with their original only
// (no job is queued for them: they stay as they are, to show those states), FAILED ones with
// a corrupt original and the reason imaging gives for it. It returns how many it wrote; a
// tenant that has screenshots already gets none.
func Screenshots(ctx context.Context, pool *pgxpool.Pool, blobs Blobs) (int, error) {
	var tenantID uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = $1`, DemoTenant).Scan(&tenantID); err != nil {
		return 0, fmt.Errorf("seed screenshots: demo tenant: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenantID.String()); err != nil {
		return 0, fmt.Errorf("set tenant: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM screenshots WHERE tenant_id = $1)`, tenantID).Scan(&exists); err != nil {
		return 0, fmt.Errorf("seed screenshots: %w", err)
	}
	if exists {
		return 0, nil
	}
	type entry struct {
		id, employee uuid.UUID
		start        time.Time
	}
	rows, err := tx.Query(ctx, `SELECT id, employee_id, start_time FROM time_entries WHERE tenant_id = $1
		ORDER BY start_time DESC, id LIMIT $2`, tenantID, len(screenshotStates))
	if err != nil {
		return 0, fmt.Errorf("seed screenshots: time entries: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (entry, error) {
		var e entry
		return e, r.Scan(&e.id, &e.employee, &e.start)
	})
	if err != nil {
		return 0, fmt.Errorf("seed screenshots: time entries: %w", err)
	}
	g := &generator{rng: rand.New(rand.NewPCG(7, 42))}
	for i, e := range entries {
		if err := seedScreenshot(ctx, tx, blobs, g, tenantID, e.employee, e.id, e.start.Add(10*time.Minute),
			screenshotStates[i]); err != nil {
			return 0, err
		}
	}
	return len(entries), tx.Commit(ctx)
}

func seedScreenshot(ctx context.Context, tx pgx.Tx, blobs Blobs, g *generator, tenantID, employeeID, entryID uuid.UUID,
	capturedAt time.Time, status string,
) error {
	id := g.id()
	original, err := desktop(g.rng)
	if err != nil {
		return err
	}
	if status == store.ScreenshotFailed {
		original = original[:len(original)/3] // an upload cut short: a header, then nothing
	}
	originalKey := jobs.ScreenshotOriginalKey(tenantID, id)
	if err := blobs.WriteAll(ctx, originalKey, original, &blob.WriterOptions{ContentType: "image/png"}); err != nil {
		return fmt.Errorf("seed screenshot original: %w", err)
	}
	var (
		blobKey, thumbKey                     *string
		width, height, imageBytes, thumbBytes *int
		failure                               *string
		processedAt                           *time.Time
	)
	switch status {
	case store.ScreenshotProcessed, store.ScreenshotFailed:
		done := capturedAt.Add(3 * time.Second)
		processedAt = &done
		res, err := imaging.Process(original, imaging.ProcessOpts{MaxBytes: jobs.DefaultMaxImageBytes,
			MaxPixels: jobs.DefaultMaxImagePixels})
		if status == store.ScreenshotFailed {
			if err == nil {
				return errors.New("seed screenshot: the corrupt original was processed")
			}
			var refusal *apperr.Error
			if !errors.As(err, &refusal) {
				return fmt.Errorf("seed screenshot: process the corrupt original: %w", err)
			}
			failure = &refusal.Message // the reason the processing job records
			break
		}
		if err != nil {
			return fmt.Errorf("seed screenshot: process: %w", err)
		}
		ik, tk := jobs.ScreenshotImageKey(tenantID, id), jobs.ScreenshotThumbnailKey(tenantID, id)
		jpegOpts := &blob.WriterOptions{ContentType: "image/jpeg"}
		if err := blobs.WriteAll(ctx, ik, res.Image.JPEG, jpegOpts); err != nil {
			return fmt.Errorf("seed screenshot image: %w", err)
		}
		if err := blobs.WriteAll(ctx, tk, res.Thumbnail.JPEG, jpegOpts); err != nil {
			return fmt.Errorf("seed screenshot thumbnail: %w", err)
		}
		w, h, ib, tb := res.Image.Width, res.Image.Height, res.Image.Size(), res.Thumbnail.Size()
		blobKey, thumbKey, width, height, imageBytes, thumbBytes = &ik, &tk, &w, &h, &ib, &tb
	}
	_, err = tx.Exec(ctx, `INSERT INTO screenshots (tenant_id, id, employee_id, time_entry_id, captured_at, status,
		original_key, original_bytes, original_format, blob_key, thumbnail_key, width, height, image_bytes,
		thumbnail_bytes, failure, created_at, updated_at, processed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'png', $9, $10, $11, $12, $13, $14, $15,
			$5::timestamptz, coalesce($16::timestamptz, $5::timestamptz), $16::timestamptz)`,
		tenantID, id, employeeID, entryID, capturedAt, status, originalKey, len(original), blobKey, thumbKey,
		width, height, imageBytes, thumbBytes, failure, processedAt)
	if err != nil {
		return fmt.Errorf("insert screenshot: %w", err)
	}
	return nil
}

// desktop draws a screen: a wallpaper in a random hue, a few windows with lines of "text", and
// a task bar; encoded as PNG like an agent's capture.
func desktop(rng *rand.Rand) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, seedShotWidth, seedShotHeight))
	base := color.RGBA{uint8(40 + rng.IntN(120)), uint8(40 + rng.IntN(120)), uint8(80 + rng.IntN(150)), 255}
	for y := 0; y < seedShotHeight; y++ {
		shade := color.RGBA{base.R, base.G, uint8(int(base.B) * (seedShotHeight + y) / (2 * seedShotHeight)), 255}
		draw.Draw(img, image.Rect(0, y, seedShotWidth, y+1), image.NewUniform(shade), image.Point{}, draw.Src)
	}
	for w := 0; w < 2+rng.IntN(3); w++ {
		x, y := rng.IntN(seedShotWidth/2), rng.IntN(seedShotHeight/2)
		win := image.Rect(x, y, x+160+rng.IntN(seedShotWidth/2), y+100+rng.IntN(seedShotHeight/2)).Intersect(img.Bounds())
		draw.Draw(img, win, image.NewUniform(color.RGBA{246, 246, 246, 255}), image.Point{}, draw.Src)
		title := image.Rect(win.Min.X, win.Min.Y, win.Max.X, win.Min.Y+14)
		draw.Draw(img, title, image.NewUniform(color.RGBA{60, 90, 160, 255}), image.Point{}, draw.Src)
		for line := win.Min.Y + 22; line+5 < win.Max.Y; line += 10 {
			length := 20 + rng.IntN(max(1, win.Dx()-30))
			bar := image.Rect(win.Min.X+8, line, min(win.Max.X-8, win.Min.X+8+length), line+4)
			draw.Draw(img, bar, image.NewUniform(color.RGBA{50, 50, 50, 255}), image.Point{}, draw.Src)
		}
	}
	draw.Draw(img, image.Rect(0, seedShotHeight-18, seedShotWidth, seedShotHeight),
		image.NewUniform(color.RGBA{20, 20, 28, 255}), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode seed screenshot: %w", err)
	}
	return buf.Bytes(), nil
}
