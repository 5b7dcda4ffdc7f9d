// Package playground serves a GraphiQL page whose scripts and styles are
// embedded in the binary, so the playground works in air-gapped deployments
// and the page never pulls code from a third-party CDN.
//
// Mount the handler at the path given as [Opts.AssetsPrefix], with or without
// [http.StripPrefix] in front of it:
//
//	mux.Handle("/playground/", playground.Handler(playground.Opts{
//		Title:                "WorkingTracker API",
//		Endpoint:             "/query",
//		SubscriptionEndpoint: "/query",
//		AssetsPrefix:         "/playground/",
//	}))
//
// # Authentication
//
// Opening the page as /playground/#token=<jwt> pre-fills the request headers
// with "Authorization: Bearer <jwt>" and, when subscriptions are enabled, sends
// the same value as the Authorization key of the graphql-transport-ws
// connection_init payload. The token is carried in the URL fragment so that it
// never reaches the server, proxies or access logs; the page removes it from
// the address bar once read and never persists headers in localStorage.
//
// # Content Security Policy
//
// The page runs no inline script: configuration reaches the bootstrap script
// through data- attributes. The handler sets its own policy on the page,
//
//	default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline';
//	img-src 'self' data:; font-src data:; connect-src 'self'; ...
//
// GraphiQL needs 'unsafe-inline' in style-src: its dialogs inject <style>
// elements and CodeMirror's search panel uses style attributes. Its fonts and
// a few images are inlined as data: URLs. Browsers enforce every policy they
// receive, so a middleware may add a looser policy but not a stricter one.
// connect-src 'self' is why the endpoints must be paths on the page's origin;
// it covers same-origin ws:// and wss:// in current browsers.
//
// # Assets
//
// Assets are served under content-hashed URLs with a one-year immutable
// Cache-Control and gzip when the client accepts it; the page itself is
// served with "no-cache" so that a deploy switches clients to the new asset
// URLs at once. The vendored files and their pinned versions are listed in
// assets/VERSIONS.txt and are refreshed by scripts/vendor-playground-assets.sh.
package playground
