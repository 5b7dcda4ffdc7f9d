package playground

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

const prefix = "/playground/"

// newMux mounts the playground the way the package documentation tells
// integrators to, so the tests exercise real routing.
func newMux(opts Opts) *http.ServeMux {
	if opts.Endpoint == "" {
		opts.Endpoint = "/query"
	}
	opts.AssetsPrefix = prefix
	mux := http.NewServeMux()
	mux.Handle(prefix, Handler(opts))
	return mux
}

func do(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func page(t *testing.T, h http.Handler) string {
	t.Helper()
	resp := do(t, h, http.MethodGet, prefix, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", prefix, resp.StatusCode)
	}
	return readBody(t, resp)
}

// referencedAssets returns every URL the page loads, by the content type it
// must be served with.
func referencedAssets(t *testing.T, html string) map[string]string {
	t.Helper()
	assets := make(map[string]string)
	for _, m := range regexp.MustCompile(`<script\b[^>]*\bsrc="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		assets[m[1]] = "text/javascript; charset=utf-8"
	}
	for _, m := range regexp.MustCompile(`<link\b[^>]*\bhref="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		switch path.Ext(m[1]) {
		case ".css":
			assets[m[1]] = "text/css; charset=utf-8"
		case ".svg":
			assets[m[1]] = "image/svg+xml"
		default:
			t.Errorf("page links %s, which has no expected content type", m[1])
		}
	}
	if len(assets) == 0 {
		t.Fatal("page references no assets")
	}
	return assets
}

func TestPage(t *testing.T) {
	resp := do(t, newMux(Opts{}), http.MethodGet, prefix, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	for header, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'"} {
		if !strings.Contains(csp, directive) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, directive)
		}
	}

	html := readBody(t, resp)
	// The CSP forbids inline script, so the page must not rely on any.
	scripts := regexp.MustCompile(`<script\b([^>]*)>([^<]*)</script>`).FindAllStringSubmatch(html, -1)
	if len(scripts) != strings.Count(html, "<script") {
		t.Errorf("page has <script> elements this test cannot parse:\n%s", html)
	}
	for _, s := range scripts {
		if !strings.Contains(s[1], "src=") || strings.TrimSpace(s[2]) != "" {
			t.Errorf("inline script: %s", s[0])
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(html) {
		t.Error("page has an inline event handler")
	}
}

func TestPageLoadsOnlySameOriginAssets(t *testing.T) {
	h := newMux(Opts{SubscriptionEndpoint: "/query"})
	html := page(t, h)

	// Any absolute or protocol-relative URL would be fetched from elsewhere.
	if m := regexp.MustCompile(`(?i)(https?:|wss?:)?//[a-z0-9.-]+`).FindAllString(html, -1); len(m) > 0 {
		t.Errorf("page contains off-origin URLs: %q", m)
	}
	for _, cdn := range []string{"cdn", "unpkg", "jsdelivr", "cdnjs", "esm.sh", "googleapis"} {
		if strings.Contains(strings.ToLower(html), cdn) {
			t.Errorf("page mentions %q", cdn)
		}
	}

	for url, wantType := range referencedAssets(t, html) {
		t.Run(path.Base(url), func(t *testing.T) {
			if !strings.HasPrefix(url, prefix+"assets/") {
				t.Fatalf("asset URL %s is not under %sassets/", url, prefix)
			}
			resp := do(t, h, http.MethodGet, url, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			for header, want := range map[string]string{
				"Content-Type":           wantType,
				"Cache-Control":          "public, max-age=31536000, immutable",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := resp.Header.Get(header); got != want {
					t.Errorf("%s = %q, want %q", header, got, want)
				}
			}
			if resp.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			body := readBody(t, resp)
			if len(body) == 0 {
				t.Error("empty body")
			}
			// A stylesheet could still pull in fonts or images from the internet.
			if wantType == "text/css; charset=utf-8" {
				if m := regexp.MustCompile(`@import|url\(\s*["']?(https?:)?//`).FindString(body); m != "" {
					t.Errorf("stylesheet loads a remote resource: %q", m)
				}
			}
		})
	}
}

func TestPageConfig(t *testing.T) {
	t.Run("subscriptions", func(t *testing.T) {
		html := page(t, newMux(Opts{Endpoint: "/graphql", SubscriptionEndpoint: "/graphql/ws"}))
		for _, want := range []string{`data-endpoint="/graphql"`, `data-subscription-endpoint="/graphql/ws"`, "graphql-ws.min."} {
			if !strings.Contains(html, want) {
				t.Errorf("page lacks %s", want)
			}
		}
	})
	t.Run("no subscriptions", func(t *testing.T) {
		html := page(t, newMux(Opts{}))
		for _, unwanted := range []string{"data-subscription-endpoint", "graphql-ws"} {
			if strings.Contains(html, unwanted) {
				t.Errorf("page has %s without a SubscriptionEndpoint", unwanted)
			}
		}
	})
	t.Run("title is escaped", func(t *testing.T) {
		html := page(t, newMux(Opts{Title: `</title><script>alert(1)</script>`}))
		if strings.Contains(html, "<script>alert") {
			t.Error("title was not escaped")
		}
	})
	t.Run("default title", func(t *testing.T) {
		if html := page(t, newMux(Opts{})); !strings.Contains(html, "<title>GraphiQL</title>") {
			t.Error("page lacks the default title")
		}
	})
}

func TestNotServed(t *testing.T) {
	// The bare handler, so that no ServeMux path cleaning or routing hides
	// what the handler itself would serve.
	h := Handler(Opts{Endpoint: "/query", AssetsPrefix: prefix})
	var script string
	for url := range referencedAssets(t, page(t, h)) {
		if strings.Contains(url, "bootstrap.") {
			script = url
		}
	}
	for _, target := range []string{
		prefix + "assets/nope.js",
		prefix + "assets/bootstrap.js", // unhashed: must not be cacheable for a year
		prefix + "assets/VERSIONS.txt",
		prefix + "assets/vendor/react/LICENSE",
		prefix + "index.html",
		strings.Replace(script, "/assets/", "/assets/x/../", 1), // not a canonical path
	} {
		if resp := do(t, h, http.MethodGet, target, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, resp.StatusCode)
		}
	}

	resp := do(t, h, http.MethodPost, prefix, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST %s: status %d, Allow %q; want 405 with Allow: GET, HEAD", prefix, resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestMountedAtRoot(t *testing.T) {
	h := Handler(Opts{Endpoint: "/query"})
	resp := do(t, h, http.MethodGet, "/", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d", resp.StatusCode)
	}
	for url := range referencedAssets(t, readBody(t, resp)) {
		if !strings.HasPrefix(url, "/assets/") {
			t.Errorf("asset URL %s is not under /assets/", url)
		}
		if resp := do(t, h, http.MethodGet, url, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
	}
}

func TestMountedBehindStripPrefix(t *testing.T) {
	for _, strip := range []string{"/playground", "/playground/"} {
		t.Run(strip, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle(prefix, http.StripPrefix(strip, Handler(Opts{Endpoint: "/query", AssetsPrefix: prefix})))
			for url := range referencedAssets(t, page(t, mux)) {
				if resp := do(t, mux, http.MethodGet, url, nil); resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: status %d", url, resp.StatusCode)
				}
			}
		})
	}
}

func TestConditionalAndCompressedResponses(t *testing.T) {
	h := newMux(Opts{})
	var script string
	for url := range referencedAssets(t, page(t, h)) {
		if strings.Contains(url, "graphiql.min.") && strings.HasSuffix(url, ".js") {
			script = url
		}
	}

	identity := do(t, h, http.MethodGet, script, nil)
	plain := readBody(t, identity)
	if enc := identity.Header.Get("Content-Encoding"); enc != "" {
		t.Fatalf("Content-Encoding %q without Accept-Encoding", enc)
	}
	if vary := identity.Header.Get("Vary"); vary != "Accept-Encoding" {
		t.Errorf("Vary = %q, want Accept-Encoding", vary)
	}

	gz := do(t, h, http.MethodGet, script, http.Header{"Accept-Encoding": {"br, gzip"}})
	if enc := gz.Header.Get("Content-Encoding"); enc != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", enc)
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(unzipped) != plain {
		t.Error("gzip body does not decompress to the identity body")
	}
	if gz.Header.Get("ETag") == identity.Header.Get("ETag") {
		t.Error("gzip and identity representations share an ETag")
	}

	for _, resp := range []*http.Response{identity, gz} {
		header := http.Header{"If-None-Match": {resp.Header.Get("ETag")}, "Accept-Encoding": {resp.Header.Get("Content-Encoding")}}
		if got := do(t, h, http.MethodGet, script, header); got.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: status %d, want 304", resp.Header.Get("ETag"), got.StatusCode)
		}
	}

	head := do(t, h, http.MethodHead, script, nil)
	if head.StatusCode != http.StatusOK || readBody(t, head) != "" {
		t.Errorf("HEAD: status %d with a body, want 200 without", head.StatusCode)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"br, GZIP", true},
		{"deflate, gzip;q=0.5", true},
		{"gzip; q=0", false},
		{"gzip;q=0.000", false},
		{"gzip;q=bogus", false},
		{"x-gzip", false},
		{"*", false},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Accept-Encoding", tc.header)
		}
		if got := acceptsGzip(h); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestHandlerRejectsInvalidOpts(t *testing.T) {
	for name, opts := range map[string]Opts{
		"missing endpoint":              {},
		"relative endpoint":             {Endpoint: "query"},
		"absolute endpoint URL":         {Endpoint: "https://api.example.com/query"},
		"protocol-relative endpoint":    {Endpoint: "//api.example.com/query"},
		"backslash endpoint":            {Endpoint: `/\api.example.com/query`},
		"absolute subscription URL":     {Endpoint: "/query", SubscriptionEndpoint: "wss://api.example.com/query"},
		"relative assets prefix":        {Endpoint: "/query", AssetsPrefix: "playground/"},
		"protocol-relative assets path": {Endpoint: "/query", AssetsPrefix: "//cdn.example.com/"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Handler(%+v) did not panic", opts)
				}
			}()
			Handler(opts)
		})
	}
}

// TestVendoredAssetsMatchVersions catches hand edits of the vendored files:
// they must stay byte-identical to what the vendoring script recorded.
func TestVendoredAssetsMatchVersions(t *testing.T) {
	versions, err := assetFS.ReadFile("assets/VERSIONS.txt")
	if err != nil {
		t.Fatal(err)
	}
	recorded := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(versions))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "\t")
		if ok && strings.HasPrefix(name, "vendor/") {
			recorded[name] = sum
		}
	}

	err = fs.WalkDir(assetFS, "assets/vendor", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		sum := sha256.Sum256(body)
		if got, want := hex.EncodeToString(sum[:]), recorded[name]; got != want {
			t.Errorf("%s: sha256 %s, VERSIONS.txt records %q", name, got, want)
		}
		delete(recorded, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range recorded {
		t.Errorf("VERSIONS.txt lists %s, which is not vendored", name)
	}
}
