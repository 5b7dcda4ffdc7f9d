package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/config"
)

func TestReportsRefreshInterval(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(map[string]string{"APP_ENV": "development"}))
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute, c.ReportsRefreshInterval)
	c, err = config.FromEnv(env(map[string]string{"APP_ENV": "development", "REPORTS_REFRESH_INTERVAL": "90s"}))
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, c.ReportsRefreshInterval)
	for _, bad := range []string{"1s", "soon", "-5m"} {
		_, err := config.FromEnv(env(map[string]string{"APP_ENV": "development", "REPORTS_REFRESH_INTERVAL": bad}))
		require.ErrorContains(t, err, "REPORTS_REFRESH_INTERVAL", bad)
	}
}
