package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// Development tokens are signed by a local key that is generated on first use and kept in the
// data folder, never in the repository. The server accepts them only when APP_ENV=development.
const (
	DevIssuer   = "https://workingtracker.local/dev"
	DevAudience = "workingtracker-api"
)

// Signer mints tokens with one private key.
type Signer struct {
	key *ecdsa.PrivateKey
	kid string
}

// NewSigner wraps key.
func NewSigner(key *ecdsa.PrivateKey) *Signer {
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(der)
	return &Signer{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:8])}
}

// GenerateSigner returns a Signer with a fresh P-256 key (tests).
func GenerateSigner() (*Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return NewSigner(key), nil
}

// LoadOrCreateDevSigner reads the development key at path, creating it (0600) when missing.
func LoadOrCreateDevSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		s, err := GenerateSigner()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(s.key)
		if err != nil {
			return nil, fmt.Errorf("encode dev key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key folder: %w", err)
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		// O_EXCL: two processes starting together must not overwrite each other's key.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateDevSigner(path)
		}
		if err != nil {
			return nil, fmt.Errorf("write dev key: %w", err)
		}
		defer f.Close()
		if _, err := f.Write(pemBytes); err != nil {
			return nil, fmt.Errorf("write dev key: %w", err)
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dev key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("dev key %s is not PEM", path)
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse dev key: %w", err)
	}
	return NewSigner(key), nil
}

// KeySet verifies tokens signed by s.
func (s *Signer) KeySet() oidc.KeySet {
	return &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&s.key.PublicKey}}
}

// JWKS is the public key set document of s (for serving from a test issuer).
func (s *Signer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: string(jose.ES256), Use: "sig"}}}
}

// SignClaims signs arbitrary claims: tokens shaped like other issuers' (tests).
func (s *Signer) SignClaims(claims map[string]any) (string, error) {
	signer, err := s.joseSigner()
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

func (s *Signer) joseSigner() (jose.Signer, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.kid))
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return signer, nil
}

// TokenParams describe a token to mint.
type TokenParams struct {
	Issuer     string
	Audience   string
	TenantID   uuid.UUID
	EmployeeID uuid.UUID
	Roles      []string
	MFA        bool
	// TTL is the token's lifetime from Now: zero means an hour; negative mints a token that
	// expired that long ago (to exercise clients' refresh).
	TTL time.Duration
	Now time.Time
}

// Mint signs a token.
func (s *Signer) Mint(p TokenParams) (string, error) {
	signer, err := s.joseSigner()
	if err != nil {
		return "", err
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	if p.TTL == 0 {
		p.TTL = time.Hour
	}
	expiry, notBefore := now.Add(p.TTL), now.Add(-time.Minute)
	if notBefore.After(expiry) {
		notBefore = expiry // never valid, but not "valid from after it expired"
	}
	amr := []string{"pwd"}
	if p.MFA {
		amr = append(amr, "mfa")
	}
	registered := jwt.Claims{
		Issuer:    p.Issuer,
		Audience:  jwt.Audience{p.Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(notBefore),
		Expiry:    jwt.NewNumericDate(expiry),
		ID:        uuid.NewString(),
	}
	custom := Claims{Subject: p.EmployeeID.String(), TenantID: p.TenantID.String(), Roles: p.Roles, AMR: amr}
	tok, err := jwt.Signed(signer).Claims(registered).Claims(custom).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}
