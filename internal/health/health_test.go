package health_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/health"
)

func TestReadinessDrains(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	down := errors.New("down")
	var failing error
	r := health.NewReadiness(func(context.Context) error { return failing })
	require.NoError(t, r.Check(ctx))
	failing = down
	require.ErrorIs(t, r.Check(ctx), down)
	failing = nil
	r.Drain()
	require.ErrorIs(t, r.Check(ctx), health.ErrDraining, "draining wins over healthy dependencies")
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var pending []string
	var err error
	check := health.Migrations(func(context.Context) ([]string, error) { return pending, err })
	require.NoError(t, check(ctx))
	pending = []string{"20270101000001_next"}
	require.ErrorContains(t, check(ctx), "1 migrations not applied (20270101000001_next)")
	pending, err = nil, errors.New(`relation "bun_migrations" does not exist`)
	require.ErrorContains(t, check(ctx), "bun_migrations")
}

func TestCachedRemembersForTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Unix(0, 0)
	calls := 0
	var answer error
	check := health.Cached(func(context.Context) error { calls++; return answer }, 10*time.Second, func() time.Time { return now })
	require.NoError(t, check(ctx))
	answer = errors.New("behind")
	require.NoError(t, check(ctx), "remembered")
	require.Equal(t, 1, calls)
	now = now.Add(10 * time.Second)
	require.Error(t, check(ctx), "asked again after the ttl")
	require.Equal(t, 2, calls)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	now = now.Add(time.Minute)
	answer = nil
	_ = check(cancelled)
	require.Equal(t, 3, calls)
	require.NoError(t, check(ctx), "an answer given to a cancelled probe is not remembered")
	require.Equal(t, 4, calls)
}
