package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/config"
)

func TestBlobSettings(t *testing.T) {
	t.Parallel()
	dev := func(vars map[string]string) (config.Config, error) {
		vars["APP_ENV"] = "development"
		return config.FromEnv(env(vars))
	}
	t.Run("Defaults", func(t *testing.T) {
		c, err := dev(map[string]string{})
		require.NoError(t, err)
		require.True(t, c.Blobs.Local())
		require.Empty(t, c.Blobs.SigningKey, "development makes one under DATA_DIR")
		require.Equal(t, 5*time.Minute, c.Blobs.URLTTL)
		require.EqualValues(t, 10<<20, c.Blobs.MaxUploadBytes)
		require.EqualValues(t, 40_000_000, c.Blobs.MaxUploadPixels)
	})
	t.Run("Set", func(t *testing.T) {
		key := strings.Repeat("s", 40)
		c, err := dev(map[string]string{"BLOB_URL": "s3://shots?region=eu-west-1", "BLOB_SIGNING_KEY": key,
			"BLOB_URL_TTL": "90s", "MAX_UPLOAD_BYTES": "5000000", "MAX_UPLOAD_PIXELS": "9000000"})
		require.NoError(t, err)
		require.False(t, c.Blobs.Local())
		require.Equal(t, []byte(key), c.Blobs.SigningKey)
		require.Equal(t, 90*time.Second, c.Blobs.URLTTL)
		require.EqualValues(t, 5_000_000, c.Blobs.MaxUploadBytes)
		require.EqualValues(t, 9_000_000, c.Blobs.MaxUploadPixels)
	})
	t.Run("KeyFromFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key")
		require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("f", 32)+"\n"), 0o600))
		c, err := dev(map[string]string{"BLOB_SIGNING_KEY_FILE": path})
		require.NoError(t, err)
		require.Equal(t, []byte(strings.Repeat("f", 32)), c.Blobs.SigningKey)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := dev(map[string]string{"BLOB_SIGNING_KEY": "short", "BLOB_URL_TTL": "8d", "MAX_UPLOAD_BYTES": "0",
			"MAX_UPLOAD_PIXELS": "many"})
		require.ErrorContains(t, err, "BLOB_SIGNING_KEY must be at least 32 bytes")
		require.ErrorContains(t, err, "BLOB_URL_TTL")
		require.ErrorContains(t, err, "MAX_UPLOAD_BYTES must be a positive integer")
		require.ErrorContains(t, err, "MAX_UPLOAD_PIXELS must be a positive integer")
		_, err = dev(map[string]string{"BLOB_URL_TTL": "169h"})
		require.ErrorContains(t, err, "BLOB_URL_TTL")
		_, err = dev(map[string]string{"BLOB_SIGNING_KEY": strings.Repeat("s", 32), "BLOB_SIGNING_KEY_FILE": "/k"})
		require.ErrorContains(t, err, "not both")
	})
	t.Run("PublicURL", func(t *testing.T) {
		for _, ok := range []string{"https://api.example.com", "http://127.0.0.1:8080", "https://example.com/tracker/"} {
			c, err := dev(map[string]string{"PUBLIC_URL": ok})
			require.NoError(t, err, ok)
			require.Equal(t, ok, c.Blobs.PublicURL)
		}
		for _, bad := range []string{"api.example.com", "/relative", "ftp://example.com", "https://user:pw@example.com",
			"https://example.com/?x=1", "https://example.com/#top", "https://"} {
			_, err := dev(map[string]string{"PUBLIC_URL": bad})
			require.ErrorContains(t, err, "PUBLIC_URL must be an absolute http(s) URL", bad)
		}
	})
}
