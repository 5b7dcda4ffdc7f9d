package config_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/config"
)

func TestPIIMasterKey(t *testing.T) {
	t.Parallel()
	dev := func(vars map[string]string) (config.Config, error) {
		vars["APP_ENV"] = "development"
		return config.FromEnv(env(vars))
	}
	key := bytes.Repeat([]byte{0xa7}, 32)
	encoded := base64.StdEncoding.EncodeToString(key)
	t.Run("Unset", func(t *testing.T) {
		c, err := dev(map[string]string{})
		require.NoError(t, err)
		require.Empty(t, c.PII.MasterKey, "development makes one under DATA_DIR")
	})
	t.Run("Set", func(t *testing.T) {
		c, err := dev(map[string]string{"PII_MASTER_KEY": encoded})
		require.NoError(t, err)
		require.Equal(t, key, c.PII.MasterKey)
	})
	t.Run("File", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key")
		require.NoError(t, os.WriteFile(path, []byte(encoded+"\n"), 0o600))
		c, err := dev(map[string]string{"PII_MASTER_KEY_FILE": path})
		require.NoError(t, err)
		require.Equal(t, key, c.PII.MasterKey)
	})
	// Refusals say what is wrong, and never echo the key.
	short := base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key"))
	emptyFile := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(emptyFile, nil, 0o600))
	shortFile := filepath.Join(t.TempDir(), "short")
	require.NoError(t, os.WriteFile(shortFile, []byte(short), 0o600))
	for name, tc := range map[string]struct {
		vars   map[string]string
		want   string
		secret string
	}{
		"ErrBoth": {map[string]string{"PII_MASTER_KEY": encoded, "PII_MASTER_KEY_FILE": shortFile},
			"set PII_MASTER_KEY or PII_MASTER_KEY_FILE, not both", encoded},
		"ErrNotBase64":  {map[string]string{"PII_MASTER_KEY": "not base64 at all!"}, "PII_MASTER_KEY is not standard base64", "at all"},
		"ErrURLBase64":  {map[string]string{"PII_MASTER_KEY": "_-" + encoded[2:]}, "PII_MASTER_KEY is not standard base64", encoded[2:]},
		"ErrShort":      {map[string]string{"PII_MASTER_KEY": short}, "PII_MASTER_KEY must decode to 32 bytes, not 16", short},
		"ErrShortFile":  {map[string]string{"PII_MASTER_KEY_FILE": shortFile}, "PII_MASTER_KEY_FILE's contents must decode to 32 bytes", short},
		"ErrEmptyFile":  {map[string]string{"PII_MASTER_KEY_FILE": emptyFile}, "PII_MASTER_KEY_FILE is empty", "\x00"},
		"ErrNoFile":     {map[string]string{"PII_MASTER_KEY_FILE": emptyFile + ".missing"}, "PII_MASTER_KEY_FILE: open", "\x00"},
		"ErrProduction": {map[string]string{"APP_ENV": "production", "PII_MASTER_KEY": short}, "must decode to 32 bytes", short},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			if tc.vars["APP_ENV"] == "" {
				_, err = dev(tc.vars)
			} else {
				_, err = config.FromEnv(env(tc.vars))
			}
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), tc.secret)
		})
	}
}
