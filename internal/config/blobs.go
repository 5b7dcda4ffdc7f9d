package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Blobs configures blob storage and uploads.
type Blobs struct {
	// URL is BLOB_URL: file:///folder, s3://bucket?region=…, gs://bucket. Empty: file:// under
	// DATA_DIR/blobs.
	URL string
	// SigningKey is BLOB_SIGNING_KEY, or the contents of the file BLOB_SIGNING_KEY_FILE (at
	// least 32 bytes): it signs the /blobs/ URLs of a file:// bucket. Empty in development: a
	// key generated under DATA_DIR; production refuses to open a file:// bucket without one.
	SigningKey []byte
	// URLTTL is BLOB_URL_TTL (default 5m, at most 7 days): how long a signed URL is valid.
	URLTTL time.Duration
	// PublicURL is PUBLIC_URL: where clients reach this API (https://api.example.com, or with a
	// path prefix a proxy strips), which the /blobs/ links of a file:// bucket start with. Empty:
	// the links are relative, right only for a client talking to this API directly — not through
	// a federation gateway, which would resolve them against its own host.
	PublicURL string
	// MaxUploadBytes is MAX_UPLOAD_BYTES (default 10 MiB): the largest screenshot an upload may
	// send (a multipart body may be that plus 1 MiB for its operations).
	MaxUploadBytes int64
	// MaxUploadPixels is MAX_UPLOAD_PIXELS (default 40,000,000): the most pixels an uploaded
	// image's header may declare.
	MaxUploadPixels int64
}

// Defaults of Blobs.
const (
	DefaultMaxUploadBytes  = 10 << 20
	DefaultMaxUploadPixels = 40_000_000
	DefaultBlobURLTTL      = 5 * time.Minute
	maxBlobURLTTL          = 7 * 24 * time.Hour
	minBlobSigningKey      = 32
)

// Local reports whether the bucket is a file:// one (the default), whose URLs the API signs.
func (b Blobs) Local() bool { return b.URL == "" || strings.HasPrefix(b.URL, "file:") }

func (b *Blobs) fromEnv(getenv func(string) string) error {
	var errs []error
	b.URL = getenv("BLOB_URL")
	key, keyFile := getenv("BLOB_SIGNING_KEY"), getenv("BLOB_SIGNING_KEY_FILE")
	switch {
	case key != "" && keyFile != "":
		errs = append(errs, errors.New("set BLOB_SIGNING_KEY or BLOB_SIGNING_KEY_FILE, not both"))
	case keyFile != "":
		raw, err := os.ReadFile(keyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("BLOB_SIGNING_KEY_FILE: %w", err))
		}
		key = strings.TrimSpace(string(raw))
	}
	if key != "" && len(key) < minBlobSigningKey {
		errs = append(errs, fmt.Errorf("BLOB_SIGNING_KEY must be at least %d bytes (e.g. openssl rand -base64 32)", minBlobSigningKey))
	}
	if key != "" {
		b.SigningKey = []byte(key)
	}
	b.URLTTL = DefaultBlobURLTTL
	if v := getenv("BLOB_URL_TTL"); v != "" {
		var err error
		if b.URLTTL, err = time.ParseDuration(v); err != nil || b.URLTTL <= 0 || b.URLTTL > maxBlobURLTTL {
			errs = append(errs, errors.New("BLOB_URL_TTL must be a positive duration of at most 168h, such as 5m"))
		}
	}
	b.PublicURL = getenv("PUBLIC_URL")
	if err := checkPublicURL(b.PublicURL); err != nil {
		errs = append(errs, err)
	}
	b.MaxUploadBytes, b.MaxUploadPixels = DefaultMaxUploadBytes, DefaultMaxUploadPixels
	for _, n := range []struct {
		name string
		v    *int64
	}{{"MAX_UPLOAD_BYTES", &b.MaxUploadBytes}, {"MAX_UPLOAD_PIXELS", &b.MaxUploadPixels}} {
		if v := getenv(n.name); v != "" {
			var err error
			if *n.v, err = strconv.ParseInt(v, 10, 64); err != nil || *n.v < 1 {
				errs = append(errs, fmt.Errorf("%s must be a positive integer", n.name))
			}
		}
	}
	return errors.Join(errs...)
}

// checkPublicURL accepts an empty PUBLIC_URL or an absolute http(s) URL without query or
// fragment.
func checkPublicURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return errors.New("PUBLIC_URL must be an absolute http(s) URL without credentials, query or fragment, such as https://api.example.com")
	}
	return nil
}
