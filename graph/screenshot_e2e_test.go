package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/jpeg" // decodes the processed image the signed URL serves
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/store"
)

// The screenshot pipeline end to end, over real HTTP: a multipart upload, the processing job
// worked by the server's own river client, the status changes fanned out by the bus to
// websocket and SSE subscribers, and the signed URL serving the result. Nothing is simulated:
// no row is written and no event published by the test.

const pipelineStatusSub = `subscription($id: ID!) {
  screenshotStatusChanged(screenshotId: $id) { id status failureReason width height url thumbnailUrl sizes { image thumbnail } }
}`

const pipelineFeedSub = `subscription { screenshotEvents { id status employee { id } } }`

// uploadOwn uploads file as the token's own screenshot, captured a minute ago, and returns its id.
func uploadOwn(t *testing.T, srv *apitest.Server, token string, file []byte) string {
	t.Helper()
	r := uploadRequest{token: token, capturedAt: time.Now().Add(-time.Minute), file: file, filename: "shot.png"}.send(t, srv)
	require.Empty(t, r.Errors, "upload: %s", r.Data)
	var got uploaded
	require.NoError(t, json.Unmarshal(r.Data, &got))
	require.Equal(t, store.ScreenshotPending, got.UploadScreenshot.Status)
	return got.UploadScreenshot.ID
}

// statusesUntilComplete reads a screenshotStatusChanged subscription to its completion and
// returns the screenshots it sent.
func statusesUntilComplete(t *testing.T, c *wsClient, subID string) []map[string]any {
	t.Helper()
	var got []map[string]any
	for {
		m := c.read()
		require.Equal(t, subID, m.ID, "%+v", m)
		if m.Type == "complete" {
			return got
		}
		got = append(got, subField(t, m, "screenshotStatusChanged"))
	}
}

// statusOrder ranks statuses: screenshotStatusChanged sends them in this order, each once.
var statusOrder = map[string]int{store.ScreenshotPending: 0, store.ScreenshotProcessing: 1,
	store.ScreenshotProcessed: 2, store.ScreenshotFailed: 2}

func requireInOrder(t *testing.T, shots []map[string]any) {
	t.Helper()
	require.NotEmpty(t, shots)
	for i := 1; i < len(shots); i++ {
		require.Greater(t, statusOrder[shots[i]["status"].(string)], statusOrder[shots[i-1]["status"].(string)],
			"statuses arrive in order, each once: %v", shots)
	}
}

// requireNeverOlder: a feed delivers the row as read when each event arrives, so two events
// may show the same state, never an older one after a newer.
func requireNeverOlder(t *testing.T, shots []map[string]any) {
	t.Helper()
	for i := 1; i < len(shots); i++ {
		require.GreaterOrEqual(t, statusOrder[shots[i]["status"].(string)], statusOrder[shots[i-1]["status"].(string)],
			"%v", shots)
	}
}

func TestScreenshotPipelineEndToEnd(t *testing.T) {
	t.Parallel()
	srv := apitest.New(t, apitest.Opts{ProcessJobs: true, SignBlobURLs: true})
	f := newShotFixture(t, srv, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The manager watches the feed of their reports before anything is uploaded.
	feed := openWS(t, ctx, srv, f.managerTok)
	feed.subscribe("feed", pipelineFeedSub, nil)

	t.Run("UploadedThenProcessedLive", func(t *testing.T) {
		id := uploadOwn(t, srv, f.reportTok, screenPNG(t, 800, 500))

		c := openWS(t, ctx, srv, f.reportTok)
		c.subscribe("1", pipelineStatusSub, map[string]any{"id": id})
		shots := statusesUntilComplete(t, c, "1")
		requireInOrder(t, shots)
		last := shots[len(shots)-1]
		require.Equal(t, "PROCESSED", last["status"], "%v", shots)
		require.Equal(t, 800.0, last["width"], "not upscaled")
		require.Equal(t, 500.0, last["height"])
		require.NotNil(t, last["sizes"].(map[string]any)["thumbnail"])

		// The signed URL serves the processed JPEG; a tampered one is refused.
		url := last["url"].(string)
		resp, err := http.Get(srv.URL + url)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		cfg, format, err := image.DecodeConfig(bytes.NewReader(body))
		require.NoError(t, err)
		require.Equal(t, "jpeg", format)
		require.Equal(t, 800, cfg.Width)
		resp, err = http.Get(srv.URL + url + "0")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)

		// The manager's feed heard every change of their report's screenshot, ending PROCESSED.
		var seen []map[string]any
		for len(seen) == 0 || seen[len(seen)-1]["status"] != "PROCESSED" {
			s := subField(t, feed.read(), "screenshotEvents")
			if s["id"] == id {
				seen = append(seen, s)
			}
		}
		requireNeverOlder(t, seen)
		require.Equal(t, f.report.ID.String(), seen[0]["employee"].(map[string]any)["id"])
	})

	t.Run("ErrNotFoundForAColleague", func(t *testing.T) {
		id := uploadOwn(t, srv, f.reportTok, screenPNG(t, 64, 40))
		c := openWS(t, ctx, srv, f.outsiderTok)
		c.subscribe("1", pipelineStatusSub, map[string]any{"id": id})
		require.Equal(t, "NOT_FOUND", errorCode(t, c.read()))
	})

	t.Run("CorruptImageEndsFailedOverSSE", func(t *testing.T) {
		// A valid header over a cut body passes the upload's header check; decoding fails.
		png := screenPNG(t, 640, 400)
		id := uploadOwn(t, srv, f.outsiderTok, png[:len(png)/2])
		body, err := json.Marshal(map[string]any{"query": pipelineStatusSub, "variables": map[string]any{"id": id}})
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/query", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+f.outsiderTok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var shots []map[string]any
		for e := range sseEvents(resp) {
			if e.name == "complete" {
				break
			}
			require.Equal(t, "next", e.name, "%+v", e)
			var r apitest.Response
			require.NoError(t, json.Unmarshal([]byte(e.data), &r))
			require.Empty(t, r.Errors)
			var d struct{ ScreenshotStatusChanged map[string]any }
			require.NoError(t, json.Unmarshal(r.Data, &d))
			shots = append(shots, d.ScreenshotStatusChanged)
		}
		requireInOrder(t, shots)
		last := shots[len(shots)-1]
		require.Equal(t, "FAILED", last["status"], "%v", shots)
		require.NotEmpty(t, last["failureReason"])
		require.Nil(t, last["url"])
	})
}
