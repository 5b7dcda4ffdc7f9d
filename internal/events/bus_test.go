package events_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/events"
)

type counts struct{ delivered, dropped, active atomic.Int64 }

func (c *counts) Published(error)                {}
func (c *counts) Delivered(n int)                { c.delivered.Add(int64(n)) }
func (c *counts) Dropped(n int)                  { c.dropped.Add(int64(n)) }
func (c *counts) SubscriptionsChanged(delta int) { c.active.Add(int64(delta)) }
func (c *counts) PubSubFailed(error)             {}
func (c *counts) PubSubConnected(bool)           {}

// TestBusInProcess: events reach the tenant's matching subscribers only; a subscriber that does
// not read never blocks the publisher (its events beyond the buffer are dropped and counted);
// a subscription ends with its context.
func TestBusInProcess(t *testing.T) {
	t.Parallel()
	obs := &counts{}
	bus := events.NewBus(events.BusOpts{Buffer: 2, Observer: obs})
	t.Cleanup(func() { _ = bus.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	tenant, other := uuid.New(), uuid.New()
	watched := uuid.New()
	mine, err := bus.SubscribeScreenshots(ctx, tenant, func(e events.ScreenshotChanged) bool { return e.ScreenshotID == watched })
	require.NoError(t, err)
	stuck, err := bus.SubscribeScreenshots(ctx, tenant, nil)
	require.NoError(t, err)
	require.Equal(t, 2, bus.Active())

	publish := func(tenantID, id uuid.UUID) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			require.NoError(t, bus.PublishScreenshot(context.Background(), events.ScreenshotChanged{TenantID: tenantID, ScreenshotID: id}))
		}()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatal("a subscriber that does not read blocked the publisher")
		}
	}
	publish(other, watched) // another tenant's
	publish(tenant, uuid.New())
	publish(tenant, watched)
	publish(tenant, uuid.New()) // stuck's buffer (2) is full: dropped for it
	require.Equal(t, watched, (<-mine).ScreenshotID, "only the matching event of its tenant")
	require.Len(t, mine, 0)
	require.Len(t, stuck, 2)
	require.EqualValues(t, 1, obs.dropped.Load())
	require.EqualValues(t, 3, obs.delivered.Load())

	cancel()
	require.Eventually(t, func() bool { return bus.Active() == 0 }, time.Second, time.Millisecond)
	_, open := <-mine
	require.False(t, open, "the channel closes when the subscription's context ends")
	require.EqualValues(t, 0, obs.active.Load())
}
