// Package auth turns credentials into the request's Principal, for every transport: bearer
// JWTs verified against the issuer's JWKS (or, in development, a local key) with issuer,
// audience and expiry checked, whose tenant and roles scope everything the request may touch;
// API keys of service principals (BI, AGENT); and the account check that refuses terminated
// employees. Authenticate is the one entry point, used by the HTTP middleware and by a
// websocket's connection_init (WebsocketInit), so both apply the same checks and the same
// failure guard (AddressGuard: a client address's failed authentications are budgeted, and only
// its failures are throttled). PendingSockets bounds websockets waiting to authenticate.
//
// It writes no HTTP: it returns a *RefusedError, and httpapi answers it. The client address it
// keys failures by is the HTTP layer's to determine (WithClientAddress).
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
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
	MFA bool
	// Service marks a service principal (an API key): only they hold the roles BI and AGENT.
	Service bool
	// APIKeyID is the API key a service principal authenticated with.
	APIKeyID  uuid.UUID
	ExpiresAt time.Time
	// CostBudget, when set, replaces the role's query-cost budget (an API key's own tier).
	CostBudget *CostBudget
}

// CostBudget is a query-cost budget: Maximum points, RestorePerSecond restored each second.
type CostBudget struct {
	Maximum          int
	RestorePerSecond int
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

// Claims are the claims development tokens carry besides the registered ones. Tokens of other
// issuers are read through VerifierOpts' claim names instead.
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
	verifier    *oidc.IDTokenVerifier
	verified    *expirable.LRU[[sha256.Size]byte, *Principal]
	now         func() time.Time
	tenantClaim []string
	rolesClaim  []string
}

// VerifierOpts configures a Verifier.
type VerifierOpts struct {
	Issuer   string
	Audience string
	// JWKSURL is where the issuer publishes its keys; empty means: discover it from the issuer's
	// /.well-known/openid-configuration. Keys are cached; an unknown key id triggers a refetch
	// (at most one per MinRefresh), so keys rotated at the issuer are picked up without a restart.
	JWKSURL string
	// KeySet verifies signatures directly (development keys, tests) instead of a JWKS.
	KeySet oidc.KeySet
	// MinRefresh spaces JWKS refetches (default 10s).
	MinRefresh time.Duration
	// ClockSkew is the leeway on expiry and not-before (default 60s): clocks of issuers and
	// servers drift.
	ClockSkew time.Duration
	// TenantClaim and RolesClaim name the claims holding the tenant id and the roles, as dotted
	// paths into nested objects (e.g. "realm_access.roles"); defaults "tenant_id" and "roles".
	TenantClaim, RolesClaim string
	// HTTPClient fetches discovery and keys (default: a client with a 10s timeout).
	HTTPClient *http.Client
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	// CacheTTL is how long a verified token is remembered (default DefaultCacheTTL; negative:
	// never), CacheSize how many (default 10,000).
	CacheTTL  time.Duration
	CacheSize int
}

// DefaultClockSkew is the default leeway on expiry and not-before.
const DefaultClockSkew = time.Minute

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
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.MinRefresh == 0 {
		opts.MinRefresh = 10 * time.Second
	}
	if opts.ClockSkew == 0 {
		opts.ClockSkew = DefaultClockSkew
	}
	keys := opts.KeySet
	if keys == nil {
		jwksURL := opts.JWKSURL
		if jwksURL == "" {
			var err error
			if jwksURL, err = discoverJWKS(ctx, opts.HTTPClient, opts.Issuer); err != nil {
				return nil, err
			}
		}
		keys = newJWKSKeySet(jwksURL, opts.HTTPClient, opts.MinRefresh, Algorithms, opts.Now)
	}
	now, skew := opts.Now, opts.ClockSkew
	v := &Verifier{
		verifier: oidc.NewVerifier(opts.Issuer, keys, &oidc.Config{
			ClientID:             opts.Audience,
			SupportedSigningAlgs: Algorithms,
			// go-oidc checks expiry against Now exactly: an earlier "now" is the leeway.
			Now: func() time.Time { return now().Add(-skew) },
		}),
		now:         now,
		tenantClaim: claimPath(opts.TenantClaim, "tenant_id"),
		rolesClaim:  claimPath(opts.RolesClaim, "roles"),
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

// discoverJWKS reads the issuer's OpenID configuration (which go-oidc checks names the same
// issuer) for its jwks_uri.
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return "", fmt.Errorf("auth: discover %s: %w", issuer, err)
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURL == "" {
		return "", fmt.Errorf("auth: %s publishes no jwks_uri", issuer)
	}
	return meta.JWKSURL, nil
}

func claimPath(name, def string) []string {
	if name == "" {
		name = def
	}
	return strings.Split(name, ".")
}

// lookup follows a dotted claim path through nested objects.
func lookup(claims map[string]any, path []string) any {
	var v any = claims
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// stringList reads a claim that is a list of strings or a single string (issuers differ).
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
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
		return nil, fmt.Errorf("%w: invalid token: %w", ErrUnauthenticated, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: unreadable claims", ErrUnauthenticated)
	}
	tenantClaim, _ := lookup(claims, v.tenantClaim).(string)
	tenant, err := uuid.Parse(tenantClaim)
	if err != nil || tenant == uuid.Nil {
		return nil, fmt.Errorf("%w: token has no valid %s claim", ErrUnauthenticated, strings.Join(v.tenantClaim, "."))
	}
	employee, err := uuid.Parse(tok.Subject)
	if err != nil || employee == uuid.Nil {
		return nil, fmt.Errorf("%w: token subject is not an employee id", ErrUnauthenticated)
	}
	p := &Principal{TenantID: tenant, EmployeeID: employee, Roles: stringList(lookup(claims, v.rolesClaim)), ExpiresAt: tok.Expiry}
	for _, m := range stringList(claims["amr"]) {
		if m == "mfa" {
			p.MFA = true
		}
	}
	return p, nil
}

// Plausible reports whether raw could verify: a token verified and remembered, or one shaped
// like a JWT whose header names an algorithm accepted here. It checks no signature.
func (v *Verifier) Plausible(raw string) bool {
	if v.verified != nil {
		if p, ok := v.verified.Peek(sha256.Sum256([]byte(raw))); ok && v.now().Before(p.ExpiresAt) {
			return true
		}
	}
	header, rest, ok := strings.Cut(raw, ".")
	if !ok || strings.Count(rest, ".") != 1 || len(header) > 1024 {
		return false
	}
	decoded, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(decoded, &h) == nil && slices.Contains(Algorithms, h.Alg)
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

// RefusedError is a failed authentication: Message is safe to show; a RetryAfter above zero
// means the client's address has failed too often and must wait that long (429).
type RefusedError struct {
	Message    string
	RetryAfter time.Duration
}

func (e *RefusedError) Error() string { return "unauthenticated: " + e.Message }

// Unwrap makes every refusal an ErrUnauthenticated.
func (e *RefusedError) Unwrap() error { return ErrUnauthenticated }

// Authenticate turns an Authorization header value into its principal, for every transport
// (HTTP requests, websocket connection_init). It returns a *RefusedError for every refusal,
// counted by guard; any other error is the server's (a database that does not answer, a client
// that left) and is neither a refusal nor a failure of the client's.
func Authenticate(ctx context.Context, v TokenVerifier, guard FailureGuard, header string) (*Principal, error) {
	if guard == nil {
		guard = noGuard{}
	}
	wait, blocked := guard.Blocked(ctx)
	fail := func(reason FailureReason, message string) error {
		guard.Refused(ctx, reason)
		if w, limited := guard.Failed(ctx); limited {
			return &RefusedError{Message: message, RetryAfter: w}
		}
		if blocked {
			return &RefusedError{Message: message, RetryAfter: wait}
		}
		return &RefusedError{Message: message}
	}
	raw, ok := BearerToken(header)
	if !ok {
		reason := ReasonMissing
		if strings.TrimSpace(header) != "" {
			reason = ReasonInvalid
		}
		return nil, fail(reason, "missing bearer token: send Authorization: Bearer <token>")
	}
	if blocked && !mayCheckWhileBlocked(ctx, v, guard, raw) {
		guard.Refused(ctx, ReasonBlocked)
		return nil, &RefusedError{Message: "invalid or expired token", RetryAfter: wait}
	}
	p, err := v.Verify(ctx, raw)
	var expired *oidc.TokenExpiredError
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, ErrAccountInactive):
		return nil, fail(ReasonInactiveAccount, "account is not active")
	case errors.As(err, &expired):
		return nil, fail(ReasonExpired, "invalid or expired token")
	case errors.Is(err, ErrUnauthenticated):
		return nil, fail(ReasonInvalid, "invalid or expired token")
	}
	// The server's fault, not the client's: counted by reason, never charged to its address.
	guard.Refused(ctx, ReasonError)
	return nil, fmt.Errorf("authenticate: %w", err)
}

// mayCheckWhileBlocked decides whether a blocked address's credential is checked at all: only
// one that could be valid (Plausible), and, when checking it means a database lookup (an API
// key), only as often as the guard lets a blocked address look up (PermitLookup): a flood of
// well-formed random keys costs one lookup a second, not one a request.
func mayCheckWhileBlocked(ctx context.Context, v TokenVerifier, guard FailureGuard, raw string) bool {
	if pv, ok := v.(plausibleChecker); ok && !pv.Plausible(raw) {
		return false
	}
	if lv, ok := v.(lookupCredential); ok && lv.NeedsLookup(raw) {
		if pl, ok := guard.(lookupPermitter); ok {
			return pl.PermitLookup(ctx)
		}
	}
	return true
}

// lookupCredential tells credentials whose check is a database lookup.
type lookupCredential interface {
	NeedsLookup(raw string) bool
}

// lookupPermitter rations the lookups of a blocked address.
type lookupPermitter interface {
	PermitLookup(ctx context.Context) bool
}

// plausibleChecker tells, without a signature check or a lookup, whether a credential could be
// valid at all.
type plausibleChecker interface {
	Plausible(raw string) bool
}

// RetryAfterSeconds rounds a wait up to whole seconds (Retry-After's unit), at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// APIKeyAuthenticator turns an API key secret into its service principal.
type APIKeyAuthenticator func(ctx context.Context, secret string) (*Principal, error)

// Credentials accepts both kinds of bearer token: API keys, told apart by their prefix, and
// JWTs.
type Credentials struct {
	JWT          TokenVerifier
	APIKey       APIKeyAuthenticator
	APIKeyPrefix string
	// Accounts, when set, refuses JWTs whose employee is not an open account of their tenant
	// (ErrAccountInactive). API keys are held to the same rule by their own lookup.
	Accounts *Accounts
	// APIKeyWellFormed tells a secret of the form keys are issued in (nil: any with the prefix).
	APIKeyWellFormed func(secret string) bool
}

// Plausible implements the middleware's cheap check: an API key of the issued form, or what
// the JWT verifier finds plausible (every token, when it cannot tell).
func (c Credentials) Plausible(raw string) bool {
	if c.APIKey != nil && c.APIKeyPrefix != "" && strings.HasPrefix(raw, c.APIKeyPrefix) {
		return c.APIKeyWellFormed == nil || c.APIKeyWellFormed(raw)
	}
	if pv, ok := c.JWT.(plausibleChecker); ok {
		return pv.Plausible(raw)
	}
	return true
}

// NeedsLookup reports whether checking raw means a database lookup (an API key).
func (c Credentials) NeedsLookup(raw string) bool {
	return c.APIKey != nil && c.APIKeyPrefix != "" && strings.HasPrefix(raw, c.APIKeyPrefix)
}

// Recheck tells whether p may still act: for a person, that their account is still open
// (through the account cache); a service principal's key is checked at every request, and its
// websocket lives at most minutes.
func (c Credentials) Recheck(ctx context.Context, p *Principal) error {
	if p.Service || c.Accounts == nil {
		return nil
	}
	return c.Accounts.Check(ctx, p)
}

// Verify implements TokenVerifier.
func (c Credentials) Verify(ctx context.Context, raw string) (*Principal, error) {
	if c.APIKey != nil && c.APIKeyPrefix != "" && strings.HasPrefix(raw, c.APIKeyPrefix) {
		return c.APIKey(ctx, raw)
	}
	p, err := c.JWT.Verify(ctx, raw)
	if err != nil || c.Accounts == nil {
		return p, err
	}
	if err := c.Accounts.Check(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}
