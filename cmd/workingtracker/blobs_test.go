package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpenBlobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("DevelopmentMakesFolderAndKey", func(t *testing.T) {
		getenv := envFor(t, nil)
		e, err := loadEnv(getenv)
		require.NoError(t, err)
		b, err := e.openBlobs(ctx)
		require.NoError(t, err)
		defer b.Close()
		dataDir := getenv("DATA_DIR")
		require.DirExists(t, filepath.Join(dataDir, "blobs"))
		info, err := os.Stat(filepath.Join(dataDir, "blob-signing-key"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		u, err := b.SignURL(ctx, "tenants/t/screenshots/s/image.jpg")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u, "/blobs/?"), u)
	})
	t.Run("ErrProductionFileBucketWithoutKey", func(t *testing.T) {
		e, err := loadEnv(envFor(t, map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://db/wt",
			"OIDC_ISSUER": "https://idp.invalid", "OIDC_AUDIENCE": "api"}))
		require.NoError(t, err)
		_, err = e.openBlobs(ctx)
		require.ErrorContains(t, err, "BLOB_SIGNING_KEY (or BLOB_SIGNING_KEY_FILE) is required in production")
	})
	t.Run("ProductionWithKey", func(t *testing.T) {
		e, err := loadEnv(envFor(t, map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://db/wt",
			"OIDC_ISSUER": "https://idp.invalid", "OIDC_AUDIENCE": "api", "BLOB_SIGNING_KEY": strings.Repeat("p", 32),
			"BLOB_URL": "file://" + filepath.ToSlash(t.TempDir())}))
		require.NoError(t, err)
		b, err := e.openBlobs(ctx)
		require.NoError(t, err)
		require.NoError(t, b.Close())
	})
	t.Run("PublicURL", func(t *testing.T) {
		e, err := loadEnv(envFor(t, map[string]string{"PUBLIC_URL": "https://api.example.com"}))
		require.NoError(t, err)
		b, err := e.openBlobs(ctx)
		require.NoError(t, err)
		defer b.Close()
		u, err := b.SignURL(ctx, "tenants/t/screenshots/s/image.jpg")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u, "https://api.example.com/blobs/?"), u)
	})
}
