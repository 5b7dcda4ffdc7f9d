package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/ratelimit"
)

const (
	issuer   = "https://idp.test"
	audience = "workingtracker-api"
)

type testBundle struct {
	verifier *auth.Verifier
	jwks     atomic.Pointer[jose.JSONWebKeySet]
	fetches  atomic.Int32
	tenant   uuid.UUID
	employee uuid.UUID
}

// setup serves a JWKS from a loopback issuer, as a real identity provider would; tune adjusts
// the verifier's options.
func setup(t *testing.T, signer *auth.Signer, tune ...func(*auth.VerifierOpts)) *testBundle {
	t.Helper()
	b := &testBundle{tenant: uuid.New(), employee: uuid.New()}
	set := signer.JWKS()
	b.jwks.Store(&set)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.jwks.Load())
	}))
	t.Cleanup(srv.Close)
	opts := auth.VerifierOpts{Issuer: issuer, Audience: audience, JWKSURL: srv.URL, CacheTTL: -1}
	for _, f := range tune {
		f(&opts)
	}
	v, err := auth.NewVerifier(context.Background(), opts)
	require.NoError(t, err)
	b.verifier = v
	return b
}

func (b *testBundle) params() auth.TokenParams {
	return auth.TokenParams{Issuer: issuer, Audience: audience, TenantID: b.tenant, EmployeeID: b.employee,
		Roles: []string{"MANAGER"}, TTL: time.Hour}
}

func mint(t *testing.T, s *auth.Signer, p auth.TokenParams) string {
	t.Helper()
	tok, err := s.Mint(p)
	require.NoError(t, err)
	return tok
}

func newSigner(t *testing.T) *auth.Signer {
	t.Helper()
	s, err := auth.GenerateSigner()
	require.NoError(t, err)
	return s
}

func TestVerifyAcceptsIssuerTokens(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	b := setup(t, signer)
	p := b.params()
	p.MFA = true
	got, err := b.verifier.Verify(context.Background(), mint(t, signer, p))
	require.NoError(t, err)
	require.Equal(t, b.tenant, got.TenantID)
	require.Equal(t, b.employee, got.EmployeeID)
	require.Equal(t, []string{"MANAGER"}, got.Roles)
	require.True(t, got.MFA)
	require.True(t, got.HasRole("MANAGER"))
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	b := setup(t, signer)
	good := b.params()

	wrongAudience := good
	wrongAudience.Audience = "someone-else"
	wrongIssuer := good
	wrongIssuer.Issuer = "https://evil.test"
	expired := good
	expired.Now = time.Now().Add(-3 * time.Hour)
	noTenant := good
	noTenant.TenantID = uuid.Nil

	cases := map[string]string{
		"ErrWrongAudience":     mint(t, signer, wrongAudience),
		"ErrWrongIssuer":       mint(t, signer, wrongIssuer),
		"ErrExpired":           mint(t, signer, expired),
		"ErrNoTenant":          mint(t, signer, noTenant),
		"ErrUnknownKey":        mint(t, newSigner(t), good),
		"ErrAlgNone":           unsigned(t, good),
		"ErrHMACWithPublicKey": hmacWithPublicKey(t, signer, good),
		"ErrTampered":          tamper(t, mint(t, signer, good)),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := b.verifier.Verify(context.Background(), tok)
			require.ErrorIs(t, err, auth.ErrUnauthenticated)
		})
	}
}

func TestVerifyPicksUpRotatedKeysWithoutRestart(t *testing.T) {
	t.Parallel()
	oldKey, newKey := newSigner(t), newSigner(t)
	b := setup(t, oldKey, func(o *auth.VerifierOpts) { o.MinRefresh = time.Nanosecond })
	ctx := context.Background()
	_, err := b.verifier.Verify(ctx, mint(t, oldKey, b.params()))
	require.NoError(t, err)

	rotated := newKey.JWKS()
	b.jwks.Store(&rotated)
	_, err = b.verifier.Verify(ctx, mint(t, newKey, b.params()))
	require.NoError(t, err, "an unknown kid refetches the JWKS")
	require.GreaterOrEqual(t, b.fetches.Load(), int32(2))

	_, err = b.verifier.Verify(ctx, mint(t, oldKey, b.params()))
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "the retired key no longer verifies")
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "": ""} {
		got, ok := auth.BearerToken(header)
		require.Equal(t, want, got, header)
		require.Equal(t, want != "", ok, header)
	}
}

func claims(p auth.TokenParams) map[string]any {
	return map[string]any{"iss": p.Issuer, "aud": p.Audience, "sub": p.EmployeeID.String(),
		"tenant_id": p.TenantID.String(), "roles": p.Roles, "exp": time.Now().Add(time.Hour).Unix()}
}

func unsigned(t *testing.T, p auth.TokenParams) string {
	t.Helper()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	body, err := json.Marshal(claims(p))
	require.NoError(t, err)
	return header + "." + base64.RawURLEncoding.EncodeToString(body) + "."
}

// hmacWithPublicKey is the classic algorithm-confusion forgery: HS256 keyed with the issuer's
// public key, which an attacker knows.
func hmacWithPublicKey(t *testing.T, s *auth.Signer, p auth.TokenParams) string {
	t.Helper()
	pub := s.JWKS().Keys[0]
	der, err := x509.MarshalPKIXPublicKey(pub.Key)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: der},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", pub.KeyID))
	require.NoError(t, err)
	tok, err := jwt.Signed(signer).Claims(claims(p)).Serialize()
	require.NoError(t, err)
	return tok
}

func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(body, &c))
	c["roles"] = []string{"ADMIN"}
	body, err = json.Marshal(c)
	require.NoError(t, err)
	parts[1] = base64.RawURLEncoding.EncodeToString(body)
	return strings.Join(parts, ".")
}

func TestVerifiedTokensAreRememberedUntilTheyExpire(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	b := setup(t, signer)
	now := time.Now()
	clock := &now
	v, err := auth.NewVerifier(context.Background(), auth.VerifierOpts{Issuer: issuer, Audience: audience,
		KeySet: signer.KeySet(), Now: func() time.Time { return *clock }, CacheTTL: time.Hour})
	require.NoError(t, err)
	p := b.params()
	p.TTL = 2 * time.Minute
	p.Now = now
	tok := mint(t, signer, p)
	first, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	second, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Same(t, first, second, "the second request is served from the cache")

	later := now.Add(3 * time.Minute)
	clock = &later
	_, err = v.Verify(context.Background(), tok)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "a remembered token still expires")
}

func TestUnknownKeyIDsDoNotFloodTheIssuer(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	b := setup(t, signer, func(o *auth.VerifierOpts) { o.MinRefresh = time.Hour })
	_, err := b.verifier.Verify(context.Background(), mint(t, signer, b.params()))
	require.NoError(t, err)
	require.Equal(t, int32(1), b.fetches.Load())
	for range 20 {
		_, err := b.verifier.Verify(context.Background(), mint(t, newSigner(t), b.params()))
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
	}
	require.LessOrEqual(t, b.fetches.Load(), int32(2), "at most one refetch per MinRefresh")
}

func TestIssuerDiscoveryAndClaimMapping(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	tenant, employee := uuid.New(), uuid.New()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys",
			"authorization_endpoint": srv.URL + "/auth", "id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(signer.JWKS())
	})
	v, err := auth.NewVerifier(context.Background(), auth.VerifierOpts{Issuer: srv.URL, Audience: audience,
		TenantClaim: "org.id", RolesClaim: "realm_access.roles"})
	require.NoError(t, err, "the JWKS URL is discovered from the issuer")

	// A Keycloak-shaped token: nested claims, roles in realm_access.
	tok := signed(t, signer, map[string]any{"iss": srv.URL, "aud": audience, "sub": employee.String(),
		"exp": time.Now().Add(time.Hour).Unix(), "org": map[string]any{"id": tenant.String()},
		"realm_access": map[string]any{"roles": []string{"HR"}}, "amr": []string{"pwd", "mfa"}})
	p, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, tenant, p.TenantID)
	require.Equal(t, []string{"HR"}, p.Roles)
	require.True(t, p.MFA)
}

func TestClockSkewLeeway(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	b := setup(t, signer, func(o *auth.VerifierOpts) { o.ClockSkew = time.Minute })
	justExpired := b.params()
	justExpired.TTL, justExpired.Now = time.Minute, time.Now().Add(-90*time.Second) // expired 30s ago
	_, err := b.verifier.Verify(context.Background(), mint(t, signer, justExpired))
	require.NoError(t, err, "within the leeway")
	longExpired := b.params()
	longExpired.TTL, longExpired.Now = time.Minute, time.Now().Add(-3*time.Minute)
	_, err = b.verifier.Verify(context.Background(), mint(t, signer, longExpired))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func signed(t *testing.T, s *auth.Signer, claims map[string]any) string {
	t.Helper()
	tok, err := s.SignClaims(claims)
	require.NoError(t, err)
	return tok
}

// TestPlausibleChecksNoSignature: what a blocked address may still have verified. JWT-shaped
// tokens with an accepted algorithm and API keys of the issued form are plausible; junk,
// "alg: none" and HMAC tokens are not, so they cost a blocked address no verification.
func TestPlausibleChecksNoSignature(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	b := setup(t, signer)
	tok := mint(t, signer, b.params())
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	creds := auth.Credentials{JWT: b.verifier, APIKeyPrefix: "wtk_",
		APIKey:           func(context.Context, string) (*auth.Principal, error) { return nil, auth.ErrUnauthenticated },
		APIKeyWellFormed: func(s string) bool { return len(s) == 10 }}
	for raw, want := range map[string]bool{
		tok:           true,
		tok + "x":     true, // shaped right; its signature fails later
		"not-a-token": false,
		enc(`{"alg":"none"}`) + "." + enc(`{}`) + ".":   false,
		enc(`{"alg":"HS256"}`) + "." + enc(`{}`) + ".x": false,
		"a.b.c.d":     false,
		"wtk_123456":  true,
		"wtk_1234567": false,
	} {
		require.Equal(t, want, creds.Plausible(raw), raw)
	}
}

// countingVerifier answers every credential with err, counting the checks.
type countingVerifier struct {
	err    error
	checks atomic.Int32
}

func (v *countingVerifier) Verify(context.Context, string) (*auth.Principal, error) {
	v.checks.Add(1)
	return nil, v.err
}
func (v *countingVerifier) Plausible(string) bool   { return true }
func (v *countingVerifier) NeedsLookup(string) bool { return true }

// TestAuthenticateTellsServerFaultsFromRefusals: a check that could not be made (the database
// does not answer) is not the client's failure: no refusal, nothing spent from its budget.
func TestAuthenticateTellsServerFaultsFromRefusals(t *testing.T) {
	t.Parallel()
	limit := ratelimit.Limit{Burst: 1, Rate: 1, Period: time.Hour}
	guard := auth.NewAddressGuard(ratelimit.NewLocal(100), limit, ratelimit.NewMetrics(prometheus.NewRegistry()), nil)
	ctx := auth.WithClientAddress(context.Background(), "203.0.113.1")
	down := &countingVerifier{err: errors.New("connection refused")}
	for range 3 {
		_, err := auth.Authenticate(ctx, down, guard, "Bearer wtk_something")
		require.Error(t, err)
		var refused *auth.RefusedError
		require.False(t, errors.As(err, &refused), "a server fault is no refusal")
		require.NotErrorIs(t, err, auth.ErrUnauthenticated)
	}
	_, blocked := guard.Blocked(ctx)
	require.False(t, blocked, "server faults spent nothing")
}

// TestBlockedAddressLookupsAreRationed: once an address is blocked, credentials whose check is
// a database lookup are looked up at most once a second, however many it sends.
func TestBlockedAddressLookupsAreRationed(t *testing.T) {
	t.Parallel()
	limit := ratelimit.Limit{Burst: 1, Rate: 1, Period: time.Hour}
	guard := auth.NewAddressGuard(ratelimit.NewLocal(100), limit, ratelimit.NewMetrics(prometheus.NewRegistry()), nil)
	ctx := auth.WithClientAddress(context.Background(), "203.0.113.2")
	bad := &countingVerifier{err: auth.ErrUnauthenticated}
	for range 2 { // the budget of 1, and the failure that finds it empty
		_, err := auth.Authenticate(ctx, bad, guard, "Bearer wtk_guess")
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
	}
	_, blocked := guard.Blocked(ctx)
	require.True(t, blocked)
	bad.checks.Store(0)
	for range 50 {
		_, err := auth.Authenticate(ctx, bad, guard, "Bearer wtk_guess")
		var refused *auth.RefusedError
		require.ErrorAs(t, err, &refused)
		require.Positive(t, refused.RetryAfter)
	}
	require.LessOrEqual(t, bad.checks.Load(), int32(1), "one lookup a second while blocked")
	other := auth.WithClientAddress(context.Background(), "203.0.113.3")
	_, err := auth.Authenticate(other, bad, guard, "Bearer wtk_guess")
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.LessOrEqual(t, bad.checks.Load(), int32(2), "another address is checked")
}

type countedFailures map[string]int

func (c countedFailures) AuthFailed(reason string) { c[reason]++ }

type accountsFunc func(ctx context.Context, tenantID, employeeID uuid.UUID) (bool, error)

func (f accountsFunc) AccountActive(ctx context.Context, tenantID, employeeID uuid.UUID) (bool, error) {
	return f(ctx, tenantID, employeeID)
}

// TestAuthenticateCountsFailuresByReason: every refusal reaches the guard's counter with its
// reason, refusals of a blocked address that are never checked included.
func TestAuthenticateCountsFailuresByReason(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	b := setup(t, signer)
	inactive := uuid.New()
	var broken atomic.Bool
	creds := auth.Credentials{JWT: b.verifier, Accounts: auth.NewAccounts(accountsFunc(
		func(_ context.Context, _, employee uuid.UUID) (bool, error) {
			if broken.Load() {
				return false, errors.New("database unreachable")
			}
			return employee != inactive, nil
		}), auth.AccountsOpts{TTL: -1})}
	counted := countedFailures{}
	guard := auth.NewAddressGuard(ratelimit.NewLocal(100), ratelimit.PerSecond(5, 1), ratelimit.NewMetrics(prometheus.NewRegistry()), counted)
	ctx := auth.WithClientAddress(context.Background(), "203.0.113.9")
	try := func(header string) {
		t.Helper()
		_, err := auth.Authenticate(ctx, creds, guard, header)
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
	}

	p := b.params()
	p.TTL = -time.Hour
	expired := mint(t, signer, p)
	p = b.params()
	p.EmployeeID = inactive
	inactiveToken := mint(t, signer, p)

	try("")
	try("Basic dXNlcjpwYXNz")
	try("Bearer " + mint(t, newSigner(t), b.params()))
	try("Bearer " + expired)
	try("Bearer " + inactiveToken)
	try("Bearer junk") // the sixth failure: the address's budget (5) is spent
	try("Bearer junk") // blocked, and not even JWT-shaped: refused unchecked
	broken.Store(true)
	_, err := auth.Authenticate(ctx, creds, guard, "Bearer "+mint(t, signer, b.params()))
	require.Error(t, err)
	require.NotErrorIs(t, err, auth.ErrUnauthenticated, "the server's fault is no refusal, but it is counted")
	require.Equal(t, countedFailures{"missing": 1, "invalid": 3, "expired": 1, "inactive_account": 1, "blocked": 1, "error": 1}, counted)
}
