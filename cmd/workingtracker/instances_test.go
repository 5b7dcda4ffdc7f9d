package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/internal/testredis"
)

// TestUploadOnOneInstanceReachesASubscriberOfAnother: two `serve` processes' worth of
// everything (each its own HTTP server, job client and event bus) over one PostgreSQL, one Redis
// and one bucket, as replicas behind a load balancer. The subscriber's instance works no jobs
// (WORKERS=0), so the screenshot is processed by the other instance's worker and the status
// changes reach the subscriber only through Redis.
func TestUploadOnOneInstanceReachesASubscriberOfAnother(t *testing.T) {
	t.Parallel()
	redis := testredis.Start(t)
	shared := map[string]string{"DATABASE_URL": testdb.URL(t), "REDIS_URL": redis.URL(), "DATA_DIR": t.TempDir()}
	with := func(extra map[string]string) map[string]string {
		vars := map[string]string{}
		for k, v := range shared {
			vars[k] = v
		}
		for k, v := range extra {
			vars[k] = v
		}
		return vars
	}
	uploads := serveFor(t, with(nil))
	watches := serveFor(t, with(map[string]string{"WORKERS": "0"}))
	token := uploads.tokens["EMPLOYEE"]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(watches.base, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init",
		"payload": map[string]any{"Authorization": "Bearer " + token}}))
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "feed", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { screenshotEvents { id status } }`}}))
	// The protocol acknowledges no subscribe; the feed registers with the bus within
	// milliseconds, well before this upload's first event.
	time.Sleep(300 * time.Millisecond)

	id := uploadScreenshot(t, ctx, uploads.base, token)
	var statuses []string
	for len(statuses) < 3 {
		var m struct {
			Type    string
			Payload struct {
				Data struct {
					ScreenshotEvents struct{ ID, Status string }
				}
				Errors []any
			}
		}
		require.NoError(t, wsjson.Read(ctx, conn, &m), "statuses so far: %v", statuses)
		if m.Type != "next" {
			continue // connection_ack, pings
		}
		require.Empty(t, m.Payload.Errors)
		if e := m.Payload.Data.ScreenshotEvents; e.ID == id {
			statuses = append(statuses, e.Status)
		}
	}
	// Every change happened on the other instance: the upload (PENDING) and its worker's claim
	// and result, three events. Each delivers the row as read when it arrives, so the upload's
	// may already show PROCESSING; never an older state after a newer one.
	require.Equal(t, "PROCESSED", statuses[2], "statuses: %v", statuses)
	rank := map[string]int{"PENDING": 0, "PROCESSING": 1, "PROCESSED": 2}
	for i := 1; i < len(statuses); i++ {
		require.GreaterOrEqual(t, rank[statuses[i]], rank[statuses[i-1]], "statuses: %v", statuses)
	}
}

// uploadScreenshot sends a small PNG as the token's own screenshot and returns its id.
func uploadScreenshot(t *testing.T, ctx context.Context, base, token string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 400, 250))
	for y := range 250 {
		for x := range 400 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var file bytes.Buffer
	require.NoError(t, png.Encode(&file, img))
	ops, err := json.Marshal(map[string]any{
		"query":     `mutation($file: Upload!, $at: Time!) { uploadScreenshot(file: $file, capturedAt: $at) { id status } }`,
		"variables": map[string]any{"file": nil, "at": time.Now().Add(-time.Minute).Format(time.RFC3339)}})
	require.NoError(t, err)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("operations", string(ops)))
	require.NoError(t, mw.WriteField("map", `{"0": ["variables.file"]}`))
	fw, err := mw.CreateFormFile("0", "shot.png")
	require.NoError(t, err)
	_, err = fw.Write(file.Bytes())
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/query", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("GraphQL-Preflight", "1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got struct {
		Data struct {
			UploadScreenshot struct{ ID, Status string }
		}
		Errors []any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Empty(t, got.Errors)
	require.Equal(t, "PENDING", got.Data.UploadScreenshot.Status)
	return got.Data.UploadScreenshot.ID
}
