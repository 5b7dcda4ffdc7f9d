package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/blob/fileblob"

	"github.com/workingtracker/api/internal/apitest"
	"github.com/workingtracker/api/internal/blobs"
)

func TestSignedBlobURLs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	signingKey := []byte(strings.Repeat("k", blobs.MinSigningKeyBytes))
	srv := apitest.New(t, apitest.Opts{BlobSigningKey: signingKey})
	key := blobs.ScreenshotKey(uuid.New(), uuid.New(), blobs.Thumbnail)
	jpeg := []byte("\xff\xd8\xff\xe0 a thumbnail")
	require.NoError(t, srv.Bucket.WriteAll(ctx, key, jpeg, &blob.WriterOptions{ContentType: "image/jpeg"}))
	get := func(t *testing.T, target string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + target) // no Authorization: the URL is the credential
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}
	sign := func(signingKey []byte, key string, expiry time.Duration) string {
		u, err := fileblob.NewURLSignerHMAC(&url.URL{Path: blobs.SignedPath}, signingKey).
			URLFromKey(ctx, key, &driver.SignedURLOptions{Expiry: expiry, Method: http.MethodGet})
		require.NoError(t, err)
		return u.String()
	}
	refused := func(t *testing.T, target string, status int, code string) {
		t.Helper()
		resp, body := get(t, target)
		require.Equal(t, status, resp.StatusCode, string(body))
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		var errs struct {
			Errors []struct{ Extensions struct{ Code string } }
		}
		require.NoError(t, json.Unmarshal(body, &errs), string(body))
		require.Len(t, errs.Errors, 1)
		require.Equal(t, code, errs.Errors[0].Extensions.Code)
		require.NotContains(t, string(body), "k"+"kkkk", "nothing of the key")
	}

	t.Run("ServesTheBlob", func(t *testing.T) {
		signed, err := srv.Bucket.SignURL(ctx, key)
		require.NoError(t, err)
		resp, body := get(t, signed)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, jpeg, body)
		require.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		cache := resp.Header.Get("Cache-Control")
		require.True(t, strings.HasPrefix(cache, "private, max-age="), cache)
		maxAge, err := strconv.Atoi(strings.TrimPrefix(cache, "private, max-age="))
		require.NoError(t, err)
		require.InDelta(t, blobs.DefaultURLTTL.Seconds(), maxAge, 2, "cached no longer than the URL is valid")
	})
	t.Run("StoredTypesOtherThanImagesAreNotRendered", func(t *testing.T) {
		html := blobs.ScreenshotKey(uuid.New(), uuid.New(), blobs.Original)
		require.NoError(t, srv.Bucket.WriteAll(ctx, html, []byte("<script>alert(1)</script>"), &blob.WriterOptions{ContentType: "text/html"}))
		signed, err := srv.Bucket.SignURL(ctx, html)
		require.NoError(t, err)
		resp, _ := get(t, signed)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
		require.Equal(t, "attachment", resp.Header.Get("Content-Disposition"))
	})
	t.Run("ErrTamperedSignature", func(t *testing.T) {
		signed := sign(signingKey, key, time.Minute)
		i := strings.Index(signed, "signature=") + len("signature=") + 2
		tampered := signed[:i] + string(rune(signed[i]^1)) + signed[i+1:]
		refused(t, tampered, http.StatusForbidden, "FORBIDDEN")
	})
	t.Run("ErrExpired", func(t *testing.T) {
		refused(t, sign(signingKey, key, -time.Second), http.StatusForbidden, "FORBIDDEN")
	})
	t.Run("ErrOtherSigningKey", func(t *testing.T) {
		refused(t, sign([]byte(strings.Repeat("x", blobs.MinSigningKeyBytes)), key, time.Minute), http.StatusForbidden, "FORBIDDEN")
	})
	t.Run("ErrOtherObject", func(t *testing.T) {
		signed := sign(signingKey, key, time.Minute)
		other := strings.Replace(signed, url.QueryEscape(blobs.Thumbnail), url.QueryEscape(blobs.Image), 1)
		require.NotEqual(t, signed, other)
		refused(t, other, http.StatusForbidden, "FORBIDDEN")
	})
	t.Run("ErrTraversal", func(t *testing.T) {
		refused(t, sign(signingKey, "tenants/../../../etc/passwd", time.Minute), http.StatusForbidden, "FORBIDDEN")
		refused(t, sign(signingKey, "../blob-signing-key", time.Minute), http.StatusForbidden, "FORBIDDEN")
		refused(t, "/blobs/tenants/x?obj=x", http.StatusNotFound, "NOT_FOUND")
	})
	t.Run("ErrMissing", func(t *testing.T) {
		refused(t, sign(signingKey, blobs.ScreenshotKey(uuid.New(), uuid.New(), blobs.Image), time.Minute), http.StatusNotFound, "NOT_FOUND")
	})
	t.Run("ErrMethod", func(t *testing.T) {
		signed, err := srv.Bucket.SignURL(ctx, key)
		require.NoError(t, err)
		resp, err := http.Post(srv.URL+signed, "image/jpeg", strings.NewReader("overwrite"))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
}
