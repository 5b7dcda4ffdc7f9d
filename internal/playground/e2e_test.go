//go:build e2e

package playground

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium; scripts/playground-e2e.sh installs it.
const chromiumPath = "/usr/bin/chromium"

// TestPlaygroundE2E loads the playground in headless Chromium, runs a query
// through the GraphiQL UI and fails if the page reaches for any host other
// than the server under test, which is what an air-gapped deployment needs.
//
// PLAYGROUND_URL is the page of a running server (e.g. http://127.0.0.1:8080/)
// and PLAYGROUND_TOKEN a bearer token it accepts; the test then runs
// `{ me { id } }` and expects data back. Without PLAYGROUND_URL the test serves
// the playground itself next to a stand-in GraphQL endpoint.
//
// PLAYGROUND_SCREENSHOT is where the final screenshot goes (a temp file by
// default); the test logs the path.
func TestPlaygroundE2E(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium not found (run scripts/playground-e2e.sh, which installs it): %v", err)
	}

	pageURL := os.Getenv("PLAYGROUND_URL")
	token := os.Getenv("PLAYGROUND_TOKEN")
	// Against the real server `me` must resolve to the token's user.
	// Named like the prefilled example: GraphiQL updates the operation name on a debounce, so a
	// click right after replacing the text may still send the old name.
	query, field := `query Me { me { id } }`, "me"
	var backend *fakeGraphQL
	if pageURL == "" {
		// Fallback so the test is self-contained: the stand-in endpoint proves
		// the page issues correct GraphQL requests, not that the real schema
		// and auth work. The real check is `make e2e`, which runs this test
		// against the real server with PLAYGROUND_URL and PLAYGROUND_TOKEN.
		backend = &fakeGraphQL{}
		mux := http.NewServeMux()
		mux.Handle("/", Handler(Opts{
			Title:                "Playground E2E",
			Endpoint:             "/query",
			SubscriptionEndpoint: "/query",
		}))
		mux.Handle("/query", backend)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		pageURL = srv.URL + "/"
		token = "e2e.test.token"
		query, field = `{ __typename }`, "__typename"
	} else if token == "" {
		t.Fatal("PLAYGROUND_TOKEN is required with PLAYGROUND_URL: the real check is an authenticated query")
	}

	base, err := url.Parse(pageURL)
	if err != nil {
		t.Fatalf("PLAYGROUND_URL: %v", err)
	}
	base.Fragment = ""

	ctx := newBrowser(t, base.Hostname())
	traffic := &networkLog{}
	if err := chromedp.Listen(ctx, traffic.record); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	// The browser lives as long as ctx, so the deadline goes on a child.
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	withToken := *base
	withToken.Fragment = "token=" + url.QueryEscape(token)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(withToken.String()),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-query-editor .CodeMirror")),
	); err != nil {
		t.Fatalf("waiting for the GraphiQL editor: %v", err)
	}

	initialQuery := mustEval[string](t, ctx, editorValue(".graphiql-query-editor"))
	if !strings.Contains(initialQuery, "query Me") {
		t.Errorf("query editor starts with %q, want the prefilled `query Me` example", initialQuery)
	}

	headersJSON := mustEval[string](t, ctx, editorValue(".graphiql-editor-tool .graphiql-editor:not(.hidden)"))
	var headers map[string]string
	if err := json.Unmarshal([]byte(headersJSON), &headers); err != nil {
		t.Fatalf("headers editor holds %q, want JSON: %v", headersJSON, err)
	}
	if got, want := headers["Authorization"], "Bearer "+token; got != want {
		t.Errorf("headers editor Authorization = %q, want %q", got, want)
	}
	if hash := mustEval[string](t, ctx, `location.hash`); hash != "" {
		t.Errorf("location.hash = %q after load, want the token removed from the URL", hash)
	}

	setQuery := fmt.Sprintf(`document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(%s)`,
		strconv.Quote(query))
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](setQuery),
		chromedp.Click(chromedp.CSS(".graphiql-execute-button")),
	); err != nil {
		t.Fatalf("running the query: %v", err)
	}
	response := editorValue(".graphiql-response")
	responseJSON, err := chromedp.Run(ctx, chromedp.Poll[string](
		fmt.Sprintf(`(v => v.includes('"data"') && v)(%s)`, response),
		chromedp.WithPollingTimeout(30*time.Second),
	))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](response))
		t.Fatalf("waiting for a response with data: %v; response pane holds:\n%s", err, got)
	}
	t.Logf("response pane:\n%s", responseJSON)
	checkResponse(t, responseJSON, field)

	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot: %s", writeScreenshot(t, shot))

	if backend == nil {
		subscribeThenUpload(t, ctx, base, token)
	}

	// The token must not outlive the tab: a fresh load without the fragment
	// must come up with it nowhere in the page or in storage.
	leaked := fmt.Sprintf(`[...document.querySelectorAll(".CodeMirror")].some(e => e.CodeMirror.getValue().includes(%[1]s)) ||
		Object.keys(localStorage).some(k => localStorage.getItem(k).includes(%[1]s))`, strconv.Quote(token))
	traffic.setAnonymous()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base.String()),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-query-editor .CodeMirror")),
	); err != nil {
		t.Fatalf("reloading without a token: %v", err)
	}
	if mustEval[bool](t, ctx, leaked) {
		t.Error("token still present in the editors or localStorage after reloading without it")
	}
	// Scrubbing the token must not have cost the query history.
	history := mustEval[string](t, ctx, `localStorage.getItem("graphiql:queries") || ""`)
	if quoted, _ := json.Marshal(query); !strings.Contains(history, string(quoted)) {
		t.Errorf("query history %q lacks the query that was run", history)
	}

	if backend != nil {
		if got, want := backend.lastAuthorization(), "Bearer "+token; got != want {
			t.Errorf("GraphQL request carried Authorization %q, want %q", got, want)
		}
	}
	traffic.check(t, base.Host)
}

// newBrowser starts a throwaway Chromium that can resolve no host but
// allowedHost, so any attempt to reach a CDN fails in the browser as it would
// in an air-gapped deployment, besides being caught by [networkLog].
func newBrowser(t *testing.T, allowedHost string) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // Chromium's sandbox does not work as root, which is how CI runs.
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE "+allowedHost),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// editorValue is a JS expression reading the CodeMirror 5 editor inside the
// first element matching container.
func editorValue(container string) string {
	return fmt.Sprintf(`document.querySelector(%s).querySelector(".CodeMirror").CodeMirror.getValue()`,
		strconv.Quote(container))
}

func mustEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// checkResponse fails unless responseJSON is an error-free GraphQL response
// with a non-null data.field.
func checkResponse(t *testing.T, responseJSON, field string) {
	t.Helper()
	var resp struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []json.RawMessage          `json:"errors"`
	}
	if err := json.Unmarshal([]byte(responseJSON), &resp); err != nil {
		t.Fatalf("response pane is not JSON: %v", err)
	}
	if len(resp.Errors) > 0 {
		t.Errorf("response has errors: %s", resp.Errors)
	}
	if v := resp.Data[field]; len(v) == 0 || string(v) == "null" {
		t.Errorf("response data.%s = %s, want a value", field, v)
	}
}

func writeScreenshot(t *testing.T, png []byte) string {
	t.Helper()
	path := os.Getenv("PLAYGROUND_SCREENSHOT")
	if path == "" {
		f, err := os.CreateTemp("", "playground-e2e-*.png")
		if err != nil {
			t.Fatal(err)
		}
		path = f.Name()
		f.Close()
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// networkLog collects what the page fetched and complained about. Its record
// method runs on chromedp's event loop, so it only appends under a lock.
type networkLog struct {
	mu       sync.Mutex
	requests []string
	problems []string
	// anonymous is set once the page runs without a token: a real server then refuses its
	// introspection with 401, which is the behaviour wanted, not a page fault.
	anonymous bool
}

func (n *networkLog) setAnonymous() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.anonymous = true
}

func (n *networkLog) record(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		n.requests = append(n.requests, ev.Request.URL)
	case *network.EventWebSocketCreated:
		n.requests = append(n.requests, ev.URL)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		n.problems = append(n.problems, "uncaught exception: "+msg)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			n.problems = append(n.problems, "console."+string(ev.Type)+": "+describe(ev.Args))
		}
	case *cdplog.EventEntryAdded:
		// Browser-side failures such as CSP violations and failed loads.
		if e := ev.Entry; e.Level == cdplog.EntryLevelError {
			if n.anonymous && e.Source == cdplog.EntrySourceNetwork && strings.Contains(e.Text, "status of 401") {
				return
			}
			n.problems = append(n.problems, fmt.Sprintf("%s error: %s %s", e.Source, e.Text, e.URL))
		}
	}
}

// check fails the test for any request leaving host, and for any error the
// page reported: an offline page that half-works is a failure too.
func (n *networkLog) check(t *testing.T, host string) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.requests) == 0 {
		t.Error("recorded no network requests; the listener is not working")
	}
	for _, raw := range n.requests {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			t.Errorf("unparsable request URL %q: %v", raw, err)
		case u.Scheme == "data" || u.Scheme == "blob":
			// In-page resources, not network traffic.
		case u.Host != host:
			t.Errorf("page requested %s, which is not on %s", raw, host)
		default:
			t.Logf("request: %s", raw)
		}
	}
	for _, p := range n.problems {
		t.Errorf("page reported %s", p)
	}
}

func describe(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		if a.Description != "" {
			parts = append(parts, a.Description)
		} else {
			parts = append(parts, string(a.Value))
		}
	}
	return strings.Join(parts, " ")
}

// fakeGraphQL answers just enough GraphQL for GraphiQL: a minimal schema for
// its introspection query and {"__typename":"Query"} for anything else.
type fakeGraphQL struct {
	mu   sync.Mutex
	auth string
}

// fakeIntrospection describes `type Query { ok: Boolean }`, the smallest
// schema GraphiQL accepts as valid.
const fakeIntrospection = `{"data":{"__schema":{
"queryType":{"name":"Query"},"mutationType":null,"subscriptionType":null,"directives":[],
"types":[
 {"kind":"OBJECT","name":"Query","description":null,"inputFields":null,"interfaces":[],"enumValues":null,"possibleTypes":null,
  "fields":[{"name":"ok","description":null,"args":[],"isDeprecated":false,"deprecationReason":null,
   "type":{"kind":"SCALAR","name":"Boolean","ofType":null}}]},
 {"kind":"SCALAR","name":"Boolean","description":null,"fields":null,"inputFields":null,"interfaces":null,"enumValues":null,"possibleTypes":null}
]}}}`

func (f *fakeGraphQL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Query         string `json:"query"`
		OperationName string `json:"operationName"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if strings.Contains(req.Query, "__schema") {
		fmt.Fprint(w, fakeIntrospection)
		return
	}
	f.mu.Lock()
	f.auth = r.Header.Get("Authorization")
	f.mu.Unlock()
	fmt.Fprint(w, `{"data":{"__typename":"Query"}}`)
}

func (f *fakeGraphQL) lastAuthorization() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auth
}

// subscribeThenUpload runs a subscription in the page (over graphql-transport-ws, the token in
// connection_init), uploads a screenshot with curl as the README shows, and waits for the
// page to show it PROCESSED: the playground's subscription transport against the real server,
// its upload, worker and event bus.
func subscribeThenUpload(t *testing.T, ctx context.Context, base *url.URL, token string) {
	t.Helper()
	const sub = `subscription Shots { screenshotEvents { id status } }`
	setQuery := fmt.Sprintf(`document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(%s)`,
		strconv.Quote(sub))
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](setQuery),
		chromedp.Sleep(500*time.Millisecond), // GraphiQL reads the operation name on a debounce
		chromedp.Click(chromedp.CSS(".graphiql-execute-button")),
		chromedp.Sleep(time.Second), // the subscription starts before the upload's first event
	); err != nil {
		t.Fatalf("starting the subscription: %v", err)
	}

	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	file := filepath.Join(t.TempDir(), "shot.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	operations := `{"query":"mutation($file: Upload!, $at: Time!) { uploadScreenshot(file: $file, capturedAt: $at) { id status } }",` +
		`"variables":{"file":null,"at":"` + at + `"}}`
	queryURL := base.ResolveReference(&url.URL{Path: "/query"}).String()
	out, err := exec.CommandContext(ctx, "curl", "-sS", "--max-time", "30", queryURL,
		"-H", "Authorization: Bearer "+token, "-H", "apollo-require-preflight: true",
		"-F", "operations="+operations, "-F", `map={"0": ["variables.file"]}`, "-F", "0=@"+file).CombinedOutput()
	if err != nil {
		t.Fatalf("curl upload: %v: %s", err, out)
	}
	var uploaded struct {
		Data struct {
			UploadScreenshot struct{ ID string }
		}
	}
	if err := json.Unmarshal(out, &uploaded); err != nil || uploaded.Data.UploadScreenshot.ID == "" {
		t.Fatalf("curl upload answered %s", out)
	}
	t.Logf("uploaded screenshot %s", uploaded.Data.UploadScreenshot.ID)

	response := editorValue(".graphiql-response")
	shown, err := chromedp.Run(ctx, chromedp.Poll[string](
		fmt.Sprintf(`(v => v.includes(%s) && v.includes('"PROCESSED"') && v)(%s)`,
			strconv.Quote(uploaded.Data.UploadScreenshot.ID), response),
		chromedp.WithPollingTimeout(30*time.Second),
	))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](response))
		t.Fatalf("waiting for the page to show the screenshot PROCESSED: %v; response pane holds:\n%s", err, got)
	}
	t.Logf("subscription in the page:\n%s", shown)
}
