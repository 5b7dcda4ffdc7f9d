package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwksKeySet verifies token signatures with the keys an issuer publishes at its JWKS URL. Keys
// are cached by key id. A token signed with a key id the cache lacks — the issuer rotated its
// keys — triggers a refetch, but at most one per minRefresh: tokens with made-up key ids must
// not turn into a stream of requests to the issuer.
type jwksKeySet struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	algs       []jose.SignatureAlgorithm
	now        func() time.Time

	mu      sync.RWMutex
	keys    map[string]jose.JSONWebKey
	fetched time.Time // last fetch attempt

	refresh sync.Mutex // one fetch at a time; verifications with known keys do not wait for it
}

func newJWKSKeySet(url string, client *http.Client, minRefresh time.Duration, algs []string, now func() time.Time) *jwksKeySet {
	ks := &jwksKeySet{url: url, client: client, minRefresh: minRefresh, now: now}
	for _, a := range algs {
		ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
	}
	return ks
}

// VerifySignature implements oidc.KeySet.
func (k *jwksKeySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("parse token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	key, ok := k.key(kid)
	if !ok {
		if err := k.refetch(ctx); err != nil {
			return nil, err
		}
		if key, ok = k.key(kid); !ok {
			return nil, fmt.Errorf("no key %q at the issuer", kid)
		}
	}
	return jws.Verify(key.Key)
}

func (k *jwksKeySet) key(kid string) (jose.JSONWebKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[kid]
	return key, ok
}

// refetch replaces the cached keys with the issuer's, unless it fetched less than minRefresh
// ago (then the cache stands: the caller reports the key as unknown).
func (k *jwksKeySet) refetch(ctx context.Context) error {
	k.refresh.Lock()
	defer k.refresh.Unlock()
	k.mu.RLock()
	recent := !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.minRefresh
	k.mu.RUnlock()
	if recent {
		return nil
	}
	k.mu.Lock()
	k.fetched = k.now()
	k.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return fmt.Errorf("jwks request: %w", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch jwks: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decode jwks: %w", err)
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for _, key := range set.Keys {
		if key.Use == "" || key.Use == "sig" {
			keys[key.KeyID] = key
		}
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}
