package blobs_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/blob/fileblob"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/blobs"
)

type testBundle struct {
	bucket *blobs.Bucket
	key    []byte
	dir    string
}

func setup(t *testing.T) testBundle {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs") // created on open
	u, err := blobs.FileURL(dir)
	require.NoError(t, err)
	key := randomKey(t)
	b, err := blobs.Open(context.Background(), blobs.Opts{URL: u, SigningKey: key, URLTTL: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return testBundle{bucket: b, key: key, dir: dir}
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, blobs.MinSigningKeyBytes)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// signWith signs key as the bucket's URLs are signed, with any signing key and expiry: what an
// attacker holding (or guessing) a key could make.
func signWith(t *testing.T, signingKey []byte, key, method string, expiry time.Duration) *url.URL {
	t.Helper()
	u, err := fileblob.NewURLSignerHMAC(&url.URL{Path: blobs.SignedPath}, signingKey).
		URLFromKey(context.Background(), key, &driver.SignedURLOptions{Expiry: expiry, Method: method})
	require.NoError(t, err)
	return u
}

func TestOpenSigned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t)
	key := blobs.ScreenshotKey(uuid.New(), uuid.New(), blobs.Image)
	require.NoError(t, tb.bucket.WriteAll(ctx, key, []byte("jpeg bytes"), &blob.WriterOptions{ContentType: "image/jpeg"}))
	// A file outside tenants/, which no URL may reach.
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(tb.dir), "secret"), []byte("secret"), 0o600))

	t.Run("Valid", func(t *testing.T) {
		signed, err := tb.bucket.SignURL(ctx, key)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(signed, blobs.SignedPath+"?"), signed)
		u, err := url.Parse(signed)
		require.NoError(t, err)
		obj, err := tb.bucket.OpenSigned(ctx, u)
		require.NoError(t, err)
		defer obj.Close()
		body, err := io.ReadAll(obj)
		require.NoError(t, err)
		require.Equal(t, "jpeg bytes", string(body))
		require.Equal(t, "image/jpeg", obj.ContentType)
		require.EqualValues(t, len(body), obj.Size)
		require.WithinDuration(t, time.Now().Add(time.Minute), obj.Expires, 2*time.Second)
	})
	t.Run("PublicURL", func(t *testing.T) {
		// Behind a federation gateway a relative link resolves against the gateway: with
		// PUBLIC_URL the links are absolute, and verify however they come back.
		u, err := blobs.FileURL(tb.dir)
		require.NoError(t, err)
		public, err := blobs.Open(ctx, blobs.Opts{URL: u, SigningKey: tb.key, URLTTL: time.Minute,
			PublicURL: "https://api.example.com/tracker/"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = public.Close() })
		signed, err := public.SignURL(ctx, key)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(signed, "https://api.example.com/tracker"+blobs.SignedPath+"?"), signed)
		link, err := url.Parse(signed)
		require.NoError(t, err)
		for _, through := range []*url.URL{link, {Path: blobs.SignedPath, RawQuery: link.RawQuery}} {
			obj, err := public.OpenSigned(ctx, through)
			require.NoError(t, err)
			require.NoError(t, obj.Close())
		}
		_, err = blobs.Open(ctx, blobs.Opts{URL: u, SigningKey: tb.key, PublicURL: "api.example.com"})
		require.ErrorContains(t, err, "PUBLIC_URL")
	})
	refused := func(t *testing.T, u *url.URL, code apperr.Code) {
		t.Helper()
		obj, err := tb.bucket.OpenSigned(ctx, u)
		require.Nil(t, obj)
		require.Equal(t, code, apperr.CodeOf(err), "%v", err)
	}
	t.Run("ErrTamperedSignature", func(t *testing.T) {
		u := signWith(t, tb.key, key, "GET", time.Minute)
		q := u.Query()
		sig := []byte(q.Get("signature"))
		sig[3] ^= 1
		q.Set("signature", string(sig))
		u.RawQuery = q.Encode()
		refused(t, u, apperr.Forbidden)
	})
	t.Run("ErrOtherKeyInSignedURL", func(t *testing.T) {
		u := signWith(t, tb.key, key, "GET", time.Minute)
		q := u.Query()
		q.Set("obj", blobs.ScreenshotKey(uuid.New(), uuid.New(), blobs.Image))
		u.RawQuery = q.Encode()
		refused(t, u, apperr.Forbidden)
	})
	t.Run("ErrLaterExpiry", func(t *testing.T) {
		u := signWith(t, tb.key, key, "GET", time.Minute)
		q := u.Query()
		q.Set("expiry", "99999999999")
		u.RawQuery = q.Encode()
		refused(t, u, apperr.Forbidden)
	})
	t.Run("ErrExpired", func(t *testing.T) {
		refused(t, signWith(t, tb.key, key, "GET", -time.Second), apperr.Forbidden)
	})
	t.Run("ErrOtherSigningKey", func(t *testing.T) {
		refused(t, signWith(t, randomKey(t), key, "GET", time.Minute), apperr.Forbidden)
	})
	t.Run("ErrOtherMethod", func(t *testing.T) {
		refused(t, signWith(t, tb.key, key, "PUT", time.Minute), apperr.Forbidden)
	})
	t.Run("ErrTraversal", func(t *testing.T) {
		// Even validly signed (a leaked key), keys outside tenants/ are refused.
		for _, k := range []string{"../secret", "tenants/../../secret", "tenants/a/../../secret", "/etc/passwd",
			"tenants//x", "tenants/x/", "tenants/x\\..\\..\\secret", "tenants/x.attrs", "secret"} {
			refused(t, signWith(t, tb.key, k, "GET", time.Minute), apperr.Forbidden)
			_, err := tb.bucket.SignURL(ctx, k)
			require.Error(t, err, k)
		}
	})
	t.Run("ErrMissing", func(t *testing.T) {
		refused(t, signWith(t, tb.key, blobs.ScreenshotKey(uuid.New(), uuid.New(), blobs.Image), "GET", time.Minute), apperr.NotFound)
	})
	t.Run("ErrUnsigned", func(t *testing.T) {
		refused(t, &url.URL{Path: blobs.SignedPath, RawQuery: "obj=" + url.QueryEscape(key)}, apperr.Forbidden)
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	u, err := blobs.FileURL(dir)
	require.NoError(t, err)
	t.Run("ErrNoSigningKey", func(t *testing.T) {
		_, err := blobs.Open(ctx, blobs.Opts{URL: u})
		require.ErrorContains(t, err, "signing key")
		_, err = blobs.Open(ctx, blobs.Opts{URL: u, SigningKey: []byte("short")})
		require.ErrorContains(t, err, "signing key")
	})
	t.Run("ErrRelativeFolder", func(t *testing.T) {
		_, err := blobs.Open(ctx, blobs.Opts{URL: "file://./blobs", SigningKey: randomKey(t)})
		require.ErrorContains(t, err, "absolute folder")
	})
	t.Run("ErrCloudWithoutOpener", func(t *testing.T) {
		_, err := blobs.Open(ctx, blobs.Opts{URL: "s3://bucket?region=eu-west-1"})
		require.ErrorContains(t, err, "not supported")
	})
	t.Run("ErrTTL", func(t *testing.T) {
		_, err := blobs.Open(ctx, blobs.Opts{URL: u, SigningKey: randomKey(t), URLTTL: 8 * 24 * time.Hour})
		require.ErrorContains(t, err, "TTL")
	})
	t.Run("CloudBucketsSignTheirOwnURLs", func(t *testing.T) {
		// A cloud opener's bucket serves no /blobs/ URLs (its own presigned URLs are used).
		b, err := blobs.Open(ctx, blobs.Opts{URL: "s3://bucket", Cloud: func(ctx context.Context, _ string) (*blob.Bucket, error) {
			return fileblob.OpenBucket(dir, nil)
		}})
		require.NoError(t, err)
		defer b.Close()
		_, err = b.OpenSigned(ctx, signWith(t, randomKey(t), "tenants/x/y", "GET", time.Minute))
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
	})
}

func TestLoadOrCreateKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "blob-signing-key")
	first, err := blobs.LoadOrCreateKey(path)
	require.NoError(t, err)
	require.Len(t, first, blobs.MinSigningKeyBytes)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	again, err := blobs.LoadOrCreateKey(path)
	require.NoError(t, err)
	require.Equal(t, first, again, "kept across restarts: URLs signed before stay valid")

	require.NoError(t, os.WriteFile(path, []byte("c2hvcnQ=\n"), 0o600))
	_, err = blobs.LoadOrCreateKey(path)
	require.ErrorContains(t, err, "32 bytes")
}
