package graph_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/blobs"
	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

const uploadMutation = `mutation($file: Upload!, $at: Time!, $entry: ID) {
  uploadScreenshot(file: $file, capturedAt: $at, timeEntryId: $entry) { id status capturedAt blurred sizes { original image thumbnail } }
}`

// noopScreenshotWorker lets the test servers insert processing jobs (river refuses kinds it has
// no worker for); the servers work no jobs.
type noopScreenshotWorker struct {
	river.WorkerDefaults[jobs.ProcessScreenshotArgs]
}

func (noopScreenshotWorker) Work(context.Context, *river.Job[jobs.ProcessScreenshotArgs]) error {
	return nil
}

func uploadServer(t testing.TB, opts apitest.Opts) *apitest.Server {
	t.Helper()
	w := river.NewWorkers()
	river.AddWorker(w, &noopScreenshotWorker{})
	opts.JobWorkers = w
	return apitest.New(t, opts)
}

// uploadRequest is a GraphQL multipart request (operations, map, one file part "0").
type uploadRequest struct {
	token      string
	capturedAt time.Time
	entry      string
	file       []byte
	filename   string
	// headers are sent besides Authorization; nil: the preflight header Apollo's clients send.
	headers map[string]string
	// chunked sends the body without a Content-Length.
	chunked bool
	// query replaces uploadMutation.
	query string
}

func (u uploadRequest) body(t testing.TB) (string, []byte) {
	t.Helper()
	vars := map[string]any{"file": nil, "at": u.capturedAt.Format(time.RFC3339Nano)}
	if u.entry != "" {
		vars["entry"] = u.entry
	}
	query := u.query
	if query == "" {
		query = uploadMutation
	}
	ops, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("operations", string(ops)))
	require.NoError(t, mw.WriteField("map", `{"0": ["variables.file"]}`))
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="0"; filename=%q`, u.filename))
	h.Set("Content-Type", "image/png") // declared, never trusted
	fw, err := mw.CreatePart(h)
	require.NoError(t, err)
	_, err = fw.Write(u.file)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

func (u uploadRequest) send(t testing.TB, srv *apitest.Server) apitest.Response {
	t.Helper()
	contentType, body := u.body(t)
	var reader io.Reader = bytes.NewReader(body)
	if u.chunked {
		reader = io.MultiReader(reader) // hides the length: net/http sends it chunked
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", reader)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+u.token)
	headers := u.headers
	if headers == nil {
		headers = map[string]string{"Apollo-Require-Preflight": "true"}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return apitest.Decode(t, resp)
}

type uploaded struct {
	UploadScreenshot struct {
		ID         string
		Status     string
		CapturedAt time.Time
		Blurred    bool
		Sizes      struct {
			Original         int
			Image, Thumbnail *int
		}
	}
}

// screenPNG is a w x h PNG with enough detail to compress like a screen (text-like stripes).
func screenPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8((x*7 ^ y*13) % 251)
			if (y/18)%3 == 0 && (x/9)%5 != 0 {
				v = uint8(x * y % 97)
			}
			img.Set(x, y, color.RGBA{v, v / 2, 255 - v, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// bombPNG is a valid PNG header declaring w x h RGB pixels, followed by a little compressed
// data: decoding it would allocate w*h*4 bytes (10 GB for 50,000 x 50,000).
func bombPNG(t testing.TB, w, h uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		buf.WriteString(typ)
		buf.Write(data)
		_ = binary.Write(&buf, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8 bits, truecolour
	chunk("IHDR", ihdr)
	var idat bytes.Buffer
	zw := zlib.NewWriter(&idat)
	_, _ = zw.Write(make([]byte, 1<<20)) // the first rows, all zero: about a kilobyte
	require.NoError(t, zw.Close())
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return buf.Bytes()
}

// uploadState is what uploads have left in a tenant: screenshot rows, processing jobs, blobs,
// and blob intents (none once an upload committed or was refused).
type uploadState struct{ rows, jobs, blobs, intents int }

func stateOf(t testing.TB, srv *apitest.Server, tenant uuid.UUID) uploadState {
	t.Helper()
	ctx := context.Background()
	var s uploadState
	require.NoError(t, pgx.BeginFunc(ctx, srv.Store.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant.String()); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM screenshots WHERE tenant_id = $1`, tenant).Scan(&s.rows); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM screenshot_blob_intents WHERE tenant_id = $1`, tenant).Scan(&s.intents); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'screenshot_process' AND args->>'tenant_id' = $1`,
			tenant.String()).Scan(&s.jobs)
	}))
	it := srv.Bucket.List(&blob.ListOptions{Prefix: "tenants/" + tenant.String() + "/"})
	for {
		_, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		s.blobs++
	}
	return s
}

// recordedEvents collects what uploads publish.
type recordedEvents struct {
	mu     sync.Mutex
	events []events.ScreenshotChanged
}

func (r *recordedEvents) PublishScreenshot(_ context.Context, e events.ScreenshotChanged) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recordedEvents) all() []events.ScreenshotChanged {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func TestUploadScreenshot(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20 // MAX_UPLOAD_BYTES here: the body may be 2 MiB
	published := &recordedEvents{}
	srv := uploadServer(t, apitest.Opts{MaxUploadBytes: limit, Publisher: published})
	c := newCompany(t, srv, "acme", 2)
	ctx := context.Background()
	worker, other := c.Employees[0], c.Employees[1]
	employee := srv.Token(c.Tenant.ID, worker.ID, store.RoleEmployee)
	// newCompany's entries: three an hour long, three days ago.
	entries, err := srv.Store.ListTimeEntries(ctx, c.Scope, store.ListTimeEntriesParams{EmployeeID: &worker.ID}, store.PageParams{First: 10})
	require.NoError(t, err)
	require.NotEmpty(t, entries.Rows)
	entry := entries.Rows[0]
	during := entry.StartTime.Add(10 * time.Minute)
	othersEntries, err := srv.Store.ListTimeEntries(ctx, c.Scope, store.ListTimeEntriesParams{EmployeeID: &other.ID}, store.PageParams{First: 1})
	require.NoError(t, err)
	shot := screenPNG(t, 320, 200)

	refused := func(t *testing.T, r apitest.Response, code, field string) {
		t.Helper()
		require.Len(t, r.Errors, 1, "data: %s", r.Data)
		require.Equal(t, code, r.Errors[0].Code(), r.Errors[0].Message)
		if field != "" {
			require.Equal(t, field, r.Errors[0].Extensions["field"], r.Errors[0].Message)
		}
	}
	// unchanged runs a refused upload and checks it wrote nothing: no row, no job, no blob.
	unchanged := func(t *testing.T, attempt func()) {
		t.Helper()
		before, events := stateOf(t, srv, c.Tenant.ID), len(published.all())
		attempt()
		require.Equal(t, before, stateOf(t, srv, c.Tenant.ID), "a refused upload leaves nothing behind")
		require.Len(t, published.all(), events, "and tells no subscriber")
	}

	t.Run("StoresRowJobAndBlob", func(t *testing.T) {
		before := stateOf(t, srv, c.Tenant.ID)
		r := uploadRequest{token: employee, capturedAt: during, entry: entry.ID.String(), file: shot, filename: "shot.png"}.send(t, srv)
		require.Equal(t, http.StatusOK, r.Status)
		require.Empty(t, r.Errors)
		var got uploaded
		require.NoError(t, json.Unmarshal(r.Data, &got))
		u := got.UploadScreenshot
		require.Equal(t, store.ScreenshotPending, u.Status)
		require.True(t, u.CapturedAt.Equal(during))
		require.Equal(t, len(shot), u.Sizes.Original)
		require.Nil(t, u.Sizes.Image)
		require.Equal(t, uploadState{before.rows + 1, before.jobs + 1, before.blobs + 1, 0}, stateOf(t, srv, c.Tenant.ID))

		id := uuid.MustParse(u.ID)
		rows, err := srv.Store.ScreenshotsByIDs(ctx, c.Scope, []uuid.UUID{id})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		row := rows[0]
		require.Equal(t, worker.ID, row.EmployeeID)
		require.Equal(t, entry.ID, *row.TimeEntryID)
		require.Equal(t, "png", *row.OriginalFormat)
		key := blobs.ScreenshotKey(c.Tenant.ID, id, blobs.Original)
		require.Equal(t, key, *row.OriginalKey)
		stored, err := srv.Bucket.ReadAll(ctx, key)
		require.NoError(t, err)
		require.Equal(t, shot, stored, "the original is stored as sent")
		attrs, err := srv.Bucket.Attributes(ctx, key)
		require.NoError(t, err)
		require.Equal(t, "image/png", attrs.ContentType)

		var args jobs.ProcessScreenshotArgs
		require.NoError(t, srv.Store.Pool().QueryRow(ctx, `SELECT args FROM river_job WHERE kind = 'screenshot_process'
			AND args->>'screenshot_id' = $1`, u.ID).Scan(&args))
		require.Equal(t, c.Tenant.ID, args.TenantID)
		require.True(t, args.CapturedAt.Equal(during))

		// An upload is priced and charged like any mutation.
		cost := costOf(t, r)
		require.Equal(t, 11, cost.RequestedQueryCost, "the mutation's 10, and 1 for sizes")
		require.Equal(t, cost.ThrottleStatus.MaximumAvailable-11, cost.ThrottleStatus.CurrentlyAvailable, "charged")

		// Subscribers learn of it once it is committed.
		require.Contains(t, published.all(), events.ScreenshotChanged{TenantID: c.Tenant.ID, ScreenshotID: id,
			EmployeeID: worker.ID, Status: store.ScreenshotPending})
	})

	t.Run("AgentUploadsForItsEmployee", func(t *testing.T) {
		_, agent, err := srv.Store.CreateAPIKey(ctx, c.Scope, store.APIKeyParams{Name: "Laptop", Role: store.RoleAgent, EmployeeID: &worker.ID})
		require.NoError(t, err)
		r := uploadRequest{token: agent, capturedAt: time.Now(), file: shot, filename: "shot.png"}.send(t, srv)
		require.Empty(t, r.Errors)
		var got uploaded
		require.NoError(t, json.Unmarshal(r.Data, &got))
		rows, err := srv.Store.ScreenshotsByIDs(ctx, c.Scope, []uuid.UUID{uuid.MustParse(got.UploadScreenshot.ID)})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, worker.ID, rows[0].EmployeeID)
		require.Nil(t, rows[0].TimeEntryID)
	})

	t.Run("ErrNoPreflightHeader", func(t *testing.T) {
		unchanged(t, func() {
			for _, headers := range []map[string]string{{}, {"X-Requested-With": "XMLHttpRequest"}} {
				r := uploadRequest{token: employee, capturedAt: time.Now(), file: shot, filename: "shot.png", headers: headers}.send(t, srv)
				require.Equal(t, http.StatusBadRequest, r.Status)
				refused(t, r, "BAD_REQUEST", "")
				require.Contains(t, r.Errors[0].Message, "apollo-require-preflight")
				require.Nil(t, r.Data)
			}
		})
		// Any of the three preflight-forcing headers is enough.
		for _, h := range []string{"X-Apollo-Operation-Name", "GraphQL-Preflight"} {
			r := uploadRequest{token: employee, capturedAt: time.Now(), file: shot, filename: "shot.png",
				headers: map[string]string{h: "1"}}.send(t, srv)
			require.Empty(t, r.Errors, h)
		}
	})

	t.Run("ErrBodyOverLimit", func(t *testing.T) {
		big := slices.Concat(shot, make([]byte, 2*limit))
		unchanged(t, func() {
			for _, chunked := range []bool{false, true} {
				r := uploadRequest{token: employee, capturedAt: time.Now(), file: big, filename: "shot.png", chunked: chunked}.send(t, srv)
				require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "chunked: %v", chunked)
				refused(t, r, "REQUEST_TOO_LARGE", "")
				require.Contains(t, r.Errors[0].Message, fmt.Sprint(2*limit))
			}
		})
	})

	t.Run("ErrFileOverLimit", func(t *testing.T) {
		// Within the body's allowance, over MAX_UPLOAD_BYTES itself.
		big := slices.Concat(shot, make([]byte, limit))
		unchanged(t, func() {
			r := uploadRequest{token: employee, capturedAt: time.Now(), file: big, filename: "shot.png"}.send(t, srv)
			refused(t, r, "BAD_USER_INPUT", "file")
			require.Contains(t, r.Errors[0].Message, "larger than")
		})
	})

	t.Run("ErrNotAnImage", func(t *testing.T) {
		unchanged(t, func() {
			// Text named .png, a GIF (an image, not an accepted one), a JPEG's magic bytes with no
			// header after them, nothing. (A PNG truncated after its header passes: the processing
			// job, which decodes it, fails it.)
			files := [][]byte{[]byte("just some text, named .png"), []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
				[]byte("\xff\xd8\xff\xe0garbage"), {}}
			for _, file := range files {
				r := uploadRequest{token: employee, capturedAt: time.Now(), file: file, filename: "shot.png"}.send(t, srv)
				refused(t, r, "BAD_USER_INPUT", "file")
			}
		})
	})

	t.Run("ErrOtherEmployeesTimeEntry", func(t *testing.T) {
		// Refused in the transaction, after the original was stored: the blob is deleted again.
		unchanged(t, func() {
			r := uploadRequest{token: employee, capturedAt: othersEntries.Rows[0].StartTime.Add(time.Minute),
				entry: othersEntries.Rows[0].ID.String(), file: shot, filename: "shot.png"}.send(t, srv)
			refused(t, r, "NOT_FOUND", "timeEntryId")
			r = uploadRequest{token: employee, capturedAt: during, entry: uuid.NewString(), file: shot, filename: "shot.png"}.send(t, srv)
			refused(t, r, "NOT_FOUND", "timeEntryId")
			r = uploadRequest{token: employee, capturedAt: entry.StartTime.Add(-time.Hour), entry: entry.ID.String(), file: shot,
				filename: "shot.png"}.send(t, srv)
			refused(t, r, "BAD_USER_INPUT", "timeEntryId")
		})
	})

	t.Run("ErrCaptureTime", func(t *testing.T) {
		unchanged(t, func() {
			for _, at := range []time.Time{time.Now().Add(time.Hour), time.Now().Add(-8 * 24 * time.Hour)} {
				r := uploadRequest{token: employee, capturedAt: at, file: shot, filename: "shot.png"}.send(t, srv)
				refused(t, r, "BAD_USER_INPUT", "capturedAt")
			}
		})
	})

	t.Run("ErrOtherRoles", func(t *testing.T) {
		_, bi, err := srv.Store.CreateAPIKey(ctx, c.Scope, store.APIKeyParams{Name: "BI", Role: store.RoleBI})
		require.NoError(t, err)
		unchanged(t, func() {
			for name, token := range map[string]string{
				"AUDITOR": srv.Token(c.Tenant.ID, worker.ID, store.RoleAuditor),
				"BI":      bi,
				"NoRole":  srv.Token(c.Tenant.ID, worker.ID),
				"INTERN":  srv.Token(c.Tenant.ID, worker.ID, "INTERN"),
				"AGENT":   srv.Token(c.Tenant.ID, worker.ID, store.RoleAgent), // a token cannot claim a service role
			} {
				r := uploadRequest{token: token, capturedAt: time.Now(), file: shot, filename: "shot.png"}.send(t, srv)
				if name == "BI" { // BI keys run registered operations only: refused before parsing
					refused(t, r, "PERSISTED_QUERY_REQUIRED", "")
					continue
				}
				refused(t, r, "FORBIDDEN", "")
				require.JSONEq(t, "null", string(r.Data), name)
			}
		})
		r := uploadRequest{token: "", capturedAt: time.Now(), file: shot, filename: "shot.png"}.send(t, srv)
		require.Equal(t, http.StatusUnauthorized, r.Status)
	})

	t.Run("OneFileForTwoAliasedUploads", func(t *testing.T) {
		before := stateOf(t, srv, c.Tenant.ID)
		r := uploadRequest{token: employee, capturedAt: during, file: shot, filename: "shot.png", query: `mutation($file: Upload!, $at: Time!) {
			a: uploadScreenshot(file: $file, capturedAt: $at) { sizes { original } }
			b: uploadScreenshot(file: $file, capturedAt: $at) { sizes { original } } }`}.send(t, srv)
		require.Empty(t, r.Errors, "the second reads the file from its start too")
		require.JSONEq(t, fmt.Sprintf(`{"a": {"sizes": {"original": %[1]d}}, "b": {"sizes": {"original": %[1]d}}}`, len(shot)), string(r.Data))
		require.Equal(t, uploadState{before.rows + 2, before.jobs + 2, before.blobs + 2, 0}, stateOf(t, srv, c.Tenant.ID))
	})
	t.Run("EveryWriterRole", func(t *testing.T) {
		for _, role := range []string{store.RoleAdmin, store.RoleHR, store.RoleManager} {
			r := uploadRequest{token: srv.Token(c.Tenant.ID, c.Admin.ID, role), capturedAt: time.Now(), file: shot, filename: "s.png"}.send(t, srv)
			require.Empty(t, r.Errors, role)
		}
	})
}

// TestUploadBombIsRefusedWithoutAllocating: a PNG of a few kilobytes whose header declares
// 50,000 x 50,000 pixels (10 GB decoded) is refused from its header. Not parallel: the memory
// figure is the process's, and parallel tests wait while this one runs.
func TestUploadBombIsRefusedWithoutAllocating(t *testing.T) {
	srv := uploadServer(t, apitest.Opts{})
	c := newCompany(t, srv, "acme", 1)
	token := srv.Token(c.Tenant.ID, c.Employees[0].ID, store.RoleEmployee)
	bomb := bombPNG(t, 50_000, 50_000)
	require.Less(t, len(bomb), 8<<10)
	req := uploadRequest{token: token, capturedAt: time.Now(), file: bomb, filename: "bomb.png"}
	// Warm up connections and code paths, so the measured request measures the request.
	require.NotEmpty(t, req.send(t, srv).Errors)

	before := stateOf(t, srv, c.Tenant.ID)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	r := req.send(t, srv)
	runtime.ReadMemStats(&m1)
	require.Len(t, r.Errors, 1)
	require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
	require.Equal(t, "file", r.Errors[0].Extensions["field"])
	require.Contains(t, r.Errors[0].Message, "50000x50000")
	allocated := m1.TotalAlloc - m0.TotalAlloc
	t.Logf("allocated %d KB while refusing the bomb", allocated>>10)
	require.Less(t, allocated, uint64(20<<20), "the pixels were allocated")
	require.Equal(t, before, stateOf(t, srv, c.Tenant.ID))
}

// BenchmarkUploadScreenshot times the upload of a 1920x1080 PNG over real HTTP through the
// whole chain: multipart parsing, authentication, budget, inspection, the original's write to a
// file:// bucket, and the row and job's transaction. It reports p50 and p95.
func BenchmarkUploadScreenshot(b *testing.B) {
	srv := uploadServer(b, apitest.Opts{})
	token := srv.NewTenant("acme").Token
	shot := screenPNG(b, 1920, 1080)
	req := uploadRequest{token: token, capturedAt: time.Now(), file: shot, filename: "shot.png"}
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		r := req.send(b, srv)
		durations = append(durations, time.Since(start))
		if len(r.Errors) > 0 {
			b.Fatalf("upload: %s", r.Errors[0].Message)
		}
	}
	b.StopTimer()
	slices.Sort(durations)
	at := func(p float64) float64 {
		return float64(durations[int(p*float64(len(durations)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(shot))/1024, "KB/upload")
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
}
