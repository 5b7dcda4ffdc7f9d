// Package blobs is the service's blob storage (gocloud.dev/blob): screenshots' originals and the
// processing job's results, under tenant-prefixed keys, and the signed URLs clients read them
// through.
//
// BLOB_URL chooses the bucket: file:///a/folder (the default, under DATA_DIR/blobs) or a cloud
// bucket (s3://bucket?region=…, gs://bucket) opened by the Cloud function the binary passes in
// (package internal/blobs/cloud; tests and tools that only need file:// do not link the cloud
// SDKs). Signed URLs are the cloud's own presigned URLs for s3:// and gs://; a file:// bucket
// has none, so the API serves its blobs itself at /blobs/ behind an HMAC-SHA256 signature and
// expiry (gocloud's fileblob.URLSignerHMAC, keyed by BLOB_SIGNING_KEY), checked by OpenSigned.
package blobs

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	"github.com/workingtracker/api/internal/apperr"
)

// Names of a screenshot's blobs under its folder (ScreenshotKey): the upload as sent, and the
// processing job's fitted image and thumbnail.
const (
	Original  = "original"
	Image     = "image.jpg"
	Thumbnail = "thumbnail.jpg"
)

// ScreenshotKey is the key of one of a screenshot's blobs:
// tenants/<tenant>/screenshots/<screenshot>/<name>. Every key starts with its tenant, so a
// bucket policy, a listing or a sweep can be scoped to one tenant.
func ScreenshotKey(tenantID, screenshotID uuid.UUID, name string) string {
	return "tenants/" + tenantID.String() + "/screenshots/" + screenshotID.String() + "/" + name
}

// DefaultURLTTL is how long a signed URL is valid by default (BLOB_URL_TTL).
const DefaultURLTTL = 5 * time.Minute

// MaxURLTTL bounds BLOB_URL_TTL: S3 presigns for at most seven days.
const MaxURLTTL = 7 * 24 * time.Hour

// MinSigningKeyBytes is the shortest BLOB_SIGNING_KEY accepted (an HMAC-SHA256 key).
const MinSigningKeyBytes = 32

// SignedPath is where the API serves a file:// bucket's signed URLs.
const SignedPath = "/blobs/"

// Opts opens a Bucket.
type Opts struct {
	// URL is BLOB_URL: file:///absolute/folder (created when missing) or a scheme Cloud opens.
	URL string
	// SigningKey signs the /blobs/ URLs of a file:// bucket; required for one (at least
	// MinSigningKeyBytes).
	SigningKey []byte
	// URLTTL is how long a signed URL is valid (default DefaultURLTTL).
	URLTTL time.Duration
	// PublicURL is where clients reach the API (PUBLIC_URL): a file:// bucket's /blobs/ links
	// start with it. Empty: they are relative (/blobs/?…).
	PublicURL string
	// Cloud opens a bucket of any scheme but file:// (nil: file:// only).
	Cloud func(ctx context.Context, url string) (*blob.Bucket, error)
}

// Bucket is the service's bucket. The embedded *blob.Bucket is gocloud's (ReadAll, WriteAll,
// Delete, NewReader, …); Bucket adds signed URLs.
type Bucket struct {
	*blob.Bucket
	// signer verifies /blobs/ URLs; nil for a cloud bucket, whose URLs it signs itself.
	signer *fileblob.URLSignerHMAC
	ttl    time.Duration
}

// Open opens the bucket opts.URL names.
func Open(ctx context.Context, opts Opts) (*Bucket, error) {
	if opts.URLTTL == 0 {
		opts.URLTTL = DefaultURLTTL
	}
	if opts.URLTTL < 0 || opts.URLTTL > MaxURLTTL {
		return nil, fmt.Errorf("blobs: the URL TTL must be within (0, %s]", MaxURLTTL)
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("blobs: BLOB_URL: %w", err)
	}
	if u.Scheme != fileblob.Scheme {
		if opts.Cloud == nil {
			return nil, fmt.Errorf("blobs: BLOB_URL scheme %q is not supported (file://, s3://, gs://)", u.Scheme)
		}
		b, err := opts.Cloud(ctx, opts.URL)
		if err != nil {
			return nil, fmt.Errorf("blobs: open %s://%s: %w", u.Scheme, u.Host, err)
		}
		return &Bucket{Bucket: b, ttl: opts.URLTTL}, nil
	}
	if len(opts.SigningKey) < MinSigningKeyBytes {
		return nil, fmt.Errorf("blobs: a file:// bucket needs a signing key of at least %d bytes (BLOB_SIGNING_KEY)", MinSigningKeyBytes)
	}
	if u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) || u.RawQuery != "" {
		return nil, fmt.Errorf("blobs: BLOB_URL %q: a file:// URL names an absolute folder (file:///var/lib/blobs), without parameters", opts.URL)
	}
	base := &url.URL{Path: SignedPath}
	if opts.PublicURL != "" {
		pub, err := url.Parse(opts.PublicURL)
		if err != nil || pub.Scheme == "" || pub.Host == "" || pub.RawQuery != "" || pub.Fragment != "" {
			return nil, fmt.Errorf("blobs: PUBLIC_URL %q: an absolute URL without query or fragment", opts.PublicURL)
		}
		// The signature covers the query alone (object, expiry, method): the links verify
		// whatever host and prefix they were reached through.
		base = &url.URL{Scheme: pub.Scheme, Host: pub.Host, Path: strings.TrimSuffix(pub.Path, "/") + SignedPath}
	}
	signer := fileblob.NewURLSignerHMAC(base, opts.SigningKey)
	b, err := fileblob.OpenBucket(filepath.Clean(u.Path), &fileblob.Options{
		URLSigner: signer,
		CreateDir: true,
		// Owner only: screenshots are people's screens.
		DirFileMode: 0o700,
		// Temporary files beside the blobs: a rename from os.TempDir fails across mounts.
		NoTempDir: true,
	})
	if err != nil {
		return nil, fmt.Errorf("blobs: open %s: %w", u.Path, err)
	}
	return &Bucket{Bucket: b, signer: signer, ttl: opts.URLTTL}, nil
}

// FileURL is the BLOB_URL of a file:// bucket in dir.
func FileURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("blobs: folder %s: %w", dir, err)
	}
	return (&url.URL{Scheme: fileblob.Scheme, Path: filepath.ToSlash(abs)}).String(), nil
}

// URLTTL is how long the URLs SignURL makes are valid.
func (b *Bucket) URLTTL() time.Duration { return b.ttl }

// SignURL returns a URL that reads key's blob (GET) until the TTL passes: a cloud bucket's
// presigned URL, or for a file:// bucket a /blobs/ path the API serves (OpenSigned). Keys
// outside tenants/ are refused.
func (b *Bucket) SignURL(ctx context.Context, key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("blobs: refusing to sign key %q", key)
	}
	u, err := b.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: b.ttl, Method: "GET"})
	if err != nil {
		return "", fmt.Errorf("blobs: sign %s: %w", key, err)
	}
	return u, nil
}

// Object is a blob opened through a signed URL. The caller closes it.
type Object struct {
	io.ReadCloser
	ContentType string
	Size        int64
	// Expires is when the URL stops being valid.
	Expires time.Time
}

// errLink refuses a URL whose signature or expiry does not hold, saying nothing of which.
var errLink = apperr.New(apperr.Forbidden, "this link is invalid or has expired")

// OpenSigned verifies a /blobs/ URL (signature, expiry, method, key) and opens its blob. It
// refuses with FORBIDDEN a URL that is not signed by this bucket's key, has expired, was signed
// for another method or names a key outside tenants/; NOT_FOUND when the blob does not exist
// (or the bucket serves no /blobs/ URLs: a cloud bucket's are the cloud's).
func (b *Bucket) OpenSigned(ctx context.Context, u *url.URL) (*Object, error) {
	if b.signer == nil {
		return nil, apperr.New(apperr.NotFound, "not found")
	}
	q := u.Query()
	// KeyFromURL compares the MAC in constant time and checks the expiry.
	key, err := b.signer.KeyFromURL(ctx, u)
	if err != nil || q.Get("method") != "GET" || !validKey(key) {
		return nil, errLink
	}
	exp, err := strconv.ParseInt(q.Get("expiry"), 10, 64)
	if err != nil {
		return nil, errLink
	}
	r, err := b.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, apperr.New(apperr.NotFound, "not found")
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: open %s: %w", key, err)
	}
	return &Object{ReadCloser: r, ContentType: r.ContentType(), Size: r.Size(), Expires: time.Unix(exp, 0)}, nil
}

// validKey accepts the keys the service writes: relative, clean, under tenants/, no parent or
// empty segments, no backslashes or control characters, and not fileblob's attribute files.
func validKey(key string) bool {
	if !strings.HasPrefix(key, "tenants/") || path.Clean(key) != key || strings.HasSuffix(key, ".attrs") {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	return true
}

// LoadOrCreateKey reads the signing key at path (base64), creating a random one (0600) when it
// is missing: development's BLOB_SIGNING_KEY, kept in DATA_DIR like the development JWT key.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, MinSigningKeyBytes)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate blob signing key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key folder: %w", err)
		}
		// O_EXCL: two processes starting together must not overwrite each other's key.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateKey(path)
		}
		if err != nil {
			return nil, fmt.Errorf("write blob signing key: %w", err)
		}
		defer f.Close()
		if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
			return nil, fmt.Errorf("write blob signing key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read blob signing key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < MinSigningKeyBytes {
		return nil, fmt.Errorf("blob signing key %s: not a base64 key of %d bytes or more", path, MinSigningKeyBytes)
	}
	return key, nil
}
