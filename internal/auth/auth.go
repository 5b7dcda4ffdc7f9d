// Package auth turns a bearer token into the request's Principal. Every request but health
// checks carries a JWT; its signature is verified against the issuer's JWKS (or, in development,
// a local key), its issuer, audience and expiry are checked, and the tenant and roles it claims
// scope everything the request may touch.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Principal is who a request acts as.
type Principal struct {
	TenantID uuid.UUID
	// EmployeeID is the employee the token was issued to (the `sub` claim).
	EmployeeID uuid.UUID
	Roles      []string
	// MFA is true when the token says the user authenticated with a second factor.
	MFA       bool
	ExpiresAt time.Time
}

// HasRole reports whether the principal holds role.
func (p *Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// PrincipalFrom returns the request's principal, if it was authenticated.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}

// Claims are the token claims the API reads besides the registered ones.
type Claims struct {
	Subject  string   `json:"sub"`
	TenantID string   `json:"tenant_id"`
	Roles    []string `json:"roles"`
	AMR      []string `json:"amr"`
}

// Verifier checks tokens.
//
// It remembers tokens it verified for a short while: checking an ES256 signature costs ~45 µs,
// a tenth of a small request, and clients send the same token with every request. A remembered
// token is still refused once it expires. The price is that a key withdrawn at the issuer keeps
// verifying the tokens it signed for up to CacheTTL.
type Verifier struct {
	verifier *oidc.IDTokenVerifier
	verified *expirable.LRU[[sha256.Size]byte, *Principal]
	now      func() time.Time
}

// VerifierOpts configures a Verifier. Exactly one of JWKSURL and KeySet is set.
type VerifierOpts struct {
	Issuer   string
	Audience string
	// JWKSURL is fetched and cached; an unknown key id triggers a refetch, so keys rotated at the
	// issuer are picked up without a restart.
	JWKSURL string
	// KeySet verifies signatures directly (development keys, tests).
	KeySet oidc.KeySet
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	// CacheTTL is how long a verified token is remembered (default DefaultCacheTTL; negative:
	// never), CacheSize how many (default 10,000).
	CacheTTL  time.Duration
	CacheSize int
}

// DefaultCacheTTL bounds how long a verified token is trusted without checking its signature.
const DefaultCacheTTL = time.Minute

// Algorithms accepted on tokens. Asymmetric only: "none" and HMAC are refused, so a public key
// can never be used as a shared secret.
var Algorithms = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.EdDSA}

// NewVerifier builds a Verifier.
func NewVerifier(ctx context.Context, opts VerifierOpts) (*Verifier, error) {
	if opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("auth: issuer and audience are required")
	}
	keys := opts.KeySet
	if keys == nil {
		if opts.JWKSURL == "" {
			return nil, errors.New("auth: a JWKS URL or a key set is required")
		}
		keys = oidc.NewRemoteKeySet(ctx, opts.JWKSURL)
	}
	v := &Verifier{verifier: oidc.NewVerifier(opts.Issuer, keys, &oidc.Config{
		ClientID:             opts.Audience,
		SupportedSigningAlgs: Algorithms,
		Now:                  opts.Now,
	}), now: opts.Now}
	if v.now == nil {
		v.now = time.Now
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10_000
	}
	if opts.CacheTTL > 0 {
		v.verified = expirable.NewLRU[[sha256.Size]byte, *Principal](opts.CacheSize, nil, opts.CacheTTL)
	}
	return v, nil
}

// ErrUnauthenticated wraps every reason a token is refused. Its text is safe to show.
var ErrUnauthenticated = errors.New("unauthenticated")

// Verify checks raw and returns its principal. The principal may be shared with other requests
// bearing the same token: treat it as read-only.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	var key [sha256.Size]byte
	if v.verified != nil {
		key = sha256.Sum256([]byte(raw))
		if p, ok := v.verified.Get(key); ok && v.now().Before(p.ExpiresAt) {
			return p, nil
		}
	}
	p, err := v.verify(ctx, raw)
	if err == nil && v.verified != nil {
		v.verified.Add(key, p)
	}
	return p, err
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Principal, error) {
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid token: %v", ErrUnauthenticated, err)
	}
	var c Claims
	if err := tok.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: unreadable claims", ErrUnauthenticated)
	}
	tenant, err := uuid.Parse(c.TenantID)
	if err != nil || tenant == uuid.Nil {
		return nil, fmt.Errorf("%w: token has no valid tenant_id claim", ErrUnauthenticated)
	}
	employee, err := uuid.Parse(c.Subject)
	if err != nil || employee == uuid.Nil {
		return nil, fmt.Errorf("%w: token subject is not an employee id", ErrUnauthenticated)
	}
	p := &Principal{TenantID: tenant, EmployeeID: employee, Roles: c.Roles, ExpiresAt: tok.Expiry}
	for _, m := range c.AMR {
		if m == "mfa" {
			p.MFA = true
		}
	}
	return p, nil
}

// TokenVerifier is what the middleware needs.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*Principal, error)
}

// BearerToken extracts the token of an "Authorization: Bearer …" value.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// Middleware authenticates every request it wraps. A websocket upgrade may instead carry its
// token in the connection_init payload (browsers cannot set headers on websockets): it passes
// through unauthenticated here and the websocket transport authenticates it.
func Middleware(v TokenVerifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" && isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		raw, ok := BearerToken(header)
		if !ok {
			Unauthorized(w, "missing bearer token: send Authorization: Bearer <token>")
			return
		}
		p, err := v.Verify(r.Context(), raw)
		if err != nil {
			Unauthorized(w, "invalid or expired token")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

func isWebsocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Unauthorized answers 401 with a GraphQL-shaped error body, so clients handle it like any
// other error: extensions.code is UNAUTHENTICATED.
func Unauthorized(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer realm="workingtracker"`)
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message":    message,
			"extensions": map[string]any{"code": "UNAUTHENTICATED"},
		}},
	})
}
