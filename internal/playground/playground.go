package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed assets
var assetFS embed.FS

// Opts configures the playground page.
type Opts struct {
	// Title is the page title. Defaults to "GraphiQL".
	Title string
	// Endpoint is the path of the GraphQL HTTP endpoint on the page's own
	// origin, e.g. "/query". Required.
	Endpoint string
	// SubscriptionEndpoint is the path of the graphql-transport-ws websocket
	// endpoint, e.g. "/query". The browser derives ws:// or wss:// from the
	// page's scheme. Empty disables subscriptions.
	SubscriptionEndpoint string
	// AssetsPrefix is the public URL path the handler is mounted at, e.g.
	// "/playground/": the page is served there and the assets below it.
	// Defaults to "/".
	AssetsPrefix string
}

const (
	// Asset URLs change whenever their content does, so caches may keep them
	// for as long as they like.
	immutableCache = "public, max-age=31536000, immutable"
	// The page names the current asset URLs, so it must be revalidated (cheaply,
	// through its ETag) for a deploy to take effect.
	revalidateCache = "no-cache"

	// pageCSP is the tightest policy GraphiQL 3 runs under; see the package
	// documentation for why each relaxation is there.
	pageCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' data:; font-src data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

	pageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
{{/* Without an icon the browser requests /favicon.ico, which lies outside the
     handler when it is mounted below the root. */ -}}
<link rel="icon" type="image/svg+xml" href="{{.Favicon}}">
{{range .Styles}}<link rel="stylesheet" href="{{.}}">
{{end -}}
{{/* defer keeps execution order, which the UMD bundles rely on, and lets the
     downloads overlap with parsing. */ -}}
{{range .Scripts}}<script defer src="{{.}}"></script>
{{end -}}
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}"
{{- with .SubscriptionEndpoint}} data-subscription-endpoint="{{.}}"{{end}}>Loading…</div>
<noscript>The GraphQL playground needs JavaScript.</noscript>
</body>
</html>
`
)

// Handler returns a handler serving the playground page at the root of its
// mount and the assets below it; every other path gets 404. The page refers
// to the assets through opts.AssetsPrefix, which must therefore be the public
// path of the mount.
//
// Handler panics if opts are invalid, as [http.ServeMux.Handle] does for bad
// patterns: it is a programming error best caught at startup.
func Handler(opts Opts) http.Handler {
	opts, err := opts.withDefaults()
	if err != nil {
		panic("playground: " + err.Error())
	}

	h := &handler{prefix: opts.AssetsPrefix, assets: make(map[string]*asset)}
	// serve registers an embedded file under a content-hashed path and returns
	// the URL the page must use for it.
	serve := func(name string) string {
		body, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			panic("playground: " + err.Error())
		}
		a := newAsset(body, contentType(name), immutableCache)
		ext := path.Ext(name)
		rel := "assets/" + strings.TrimSuffix(name, ext) + "." + a.hash + ext
		h.assets[rel] = a
		return h.prefix + rel
	}

	data := struct {
		Title, Endpoint, SubscriptionEndpoint, Favicon string
		Styles, Scripts                                []string
	}{
		Title:                opts.Title,
		Endpoint:             opts.Endpoint,
		SubscriptionEndpoint: opts.SubscriptionEndpoint,
		Favicon:              serve("favicon.svg"),
		Styles: []string{
			serve("vendor/graphiql/graphiql.min.css"),
			serve("playground.css"),
		},
		// Order matters: each UMD bundle reads the globals of those before it.
		Scripts: []string{
			serve("vendor/react/react.production.min.js"),
			serve("vendor/react-dom/react-dom.production.min.js"),
			serve("vendor/graphiql/graphiql.min.js"),
		},
	}
	if opts.SubscriptionEndpoint != "" {
		data.Scripts = append(data.Scripts, serve("vendor/graphql-ws/graphql-ws.min.js"))
	}
	data.Scripts = append(data.Scripts, serve("bootstrap.js"))

	// The page depends only on opts, so it is rendered once here rather than
	// per request.
	var page bytes.Buffer
	if err := template.Must(template.New("page").Parse(pageHTML)).Execute(&page, data); err != nil {
		panic("playground: " + err.Error())
	}
	h.page = newAsset(page.Bytes(), "text/html; charset=utf-8", revalidateCache)
	h.page.header["Content-Security-Policy"] = pageCSP
	h.page.header["Referrer-Policy"] = "no-referrer"
	return h
}

func (o Opts) withDefaults() (Opts, error) {
	if o.Title == "" {
		o.Title = "GraphiQL"
	}
	if o.AssetsPrefix == "" {
		o.AssetsPrefix = "/"
	}
	if !strings.HasSuffix(o.AssetsPrefix, "/") {
		o.AssetsPrefix += "/"
	}
	if o.Endpoint == "" {
		return o, errors.New("an Endpoint is required")
	}
	for _, p := range []struct{ name, value string }{
		{"Endpoint", o.Endpoint},
		{"SubscriptionEndpoint", o.SubscriptionEndpoint},
		{"AssetsPrefix", o.AssetsPrefix},
	} {
		if p.value != "" && !isSameOriginPath(p.value) {
			return o, fmt.Errorf("%s %q must be an absolute path on the page's origin, e.g. /query", p.name, p.value)
		}
	}
	return o, nil
}

// isSameOriginPath reports whether browsers resolve p against the page's own
// origin. "//host/x" is a network-path reference to another host, and browsers
// read "/\host/x" the same way, so both are rejected.
func isSameOriginPath(p string) bool {
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" &&
		strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.Contains(p, `\`)
}

// contentType maps the few extensions the playground ships. It does not use
// package mime because that consults the host's mime.types, which may map .js
// to a type browsers refuse to execute under X-Content-Type-Options: nosniff.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	panic("playground: no content type for " + name)
}

type handler struct {
	prefix string
	page   *asset
	assets map[string]*asset // by path relative to prefix
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Paths are taken relative to the mount whether or not a StripPrefix in
	// front of the handler already removed it.
	rel, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok {
		rel = strings.TrimPrefix(r.URL.Path, "/")
	}
	a := h.page
	if rel != "" {
		a = h.assets[rel]
	}
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	a.serve(w, r)
}

// asset is a response body prepared once, at Handler construction.
type asset struct {
	hash   string            // content hash, used in URLs and ETags
	header map[string]string // canonical header keys
	body   []byte
	gzip   []byte // nil when compression does not make the body smaller
}

func newAsset(body []byte, contentType, cacheControl string) *asset {
	sum := sha256.Sum256(body)
	a := &asset{
		hash: hex.EncodeToString(sum[:8]),
		header: map[string]string{
			"Content-Type":           contentType,
			"Cache-Control":          cacheControl,
			"X-Content-Type-Options": "nosniff",
		},
		body: body,
	}
	// Compressing up front keeps the ~1.5 MB of scripts at a fraction of that on
	// the wire without relying on a compression middleware being configured.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err == nil && zw.Close() == nil && buf.Len() < len(body) {
		a.gzip = buf.Bytes()
	}
	return a
}

func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	header := w.Header()
	for k, v := range a.header {
		header.Set(k, v)
	}
	body, etag := a.body, `"`+a.hash+`"`
	if a.gzip != nil {
		header.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header) {
			header.Set("Content-Encoding", "gzip")
			// Each representation needs its own strong validator.
			body, etag = a.gzip, `"`+a.hash+`-gzip"`
		}
	}
	header.Set("ETag", etag)
	// ServeContent handles HEAD, Range and If-None-Match for us.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip,
// honouring an explicit refusal such as "gzip;q=0".
func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
			if !ok {
				return true
			}
			weight, err := strconv.ParseFloat(q, 64)
			return err == nil && weight > 0
		}
	}
	return false
}
