package events_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/events"
	"github.com/workingtracker/api/internal/testredis"
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

// TestBusHandler: a handler subscription gets its events in order, one call at a time, from a
// goroutine that exists only while events wait; a handler that does not keep up costs the
// events beyond the buffer (dropped, counted), never the publisher's time; done is called once,
// after the last call, when the context ends — and when the bus closes.
func TestBusHandler(t *testing.T) {
	t.Parallel()
	obs := &counts{}
	bus := events.NewBus(events.BusOpts{Buffer: 2, Observer: obs})
	ctx, cancel := context.WithCancel(context.Background())
	tenant := uuid.New()
	var calls, concurrent atomic.Int64
	got := make(chan uuid.UUID, 10)
	release := make(chan struct{})
	done := make(chan struct{}, 2)
	require.NoError(t, bus.SubscribeScreenshotsFunc(ctx, tenant, nil, func(e events.ScreenshotChanged) {
		if concurrent.Add(1) > 1 {
			t.Error("two calls at once")
		}
		defer concurrent.Add(-1)
		calls.Add(1)
		<-release
		got <- e.ScreenshotID
	}, func() {
		require.Zero(t, concurrent.Load(), "done after the last call returned")
		done <- struct{}{}
	}))
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New()}
	for _, id := range ids {
		require.NoError(t, bus.PublishScreenshot(ctx, events.ScreenshotChanged{TenantID: tenant, ScreenshotID: id}))
		if id == ids[0] {
			require.Eventually(t, func() bool { return calls.Load() == 1 }, time.Second, time.Millisecond)
		}
	}
	// The first is being handled, the next two wait, the fourth found the buffer full.
	require.EqualValues(t, 1, obs.dropped.Load())
	close(release)
	require.Equal(t, ids[0], <-got)
	require.Equal(t, ids[1], <-got, "in order")
	require.Equal(t, ids[2], <-got)

	cancel()
	<-done
	require.Zero(t, bus.Active())
	require.NoError(t, bus.PublishScreenshot(context.Background(), events.ScreenshotChanged{TenantID: tenant, ScreenshotID: uuid.New()}))
	require.Never(t, func() bool { return calls.Load() > 3 }, 50*time.Millisecond, 5*time.Millisecond, "no call after the end")

	// Closing the bus ends a handler subscription too.
	require.NoError(t, bus.SubscribeScreenshotsFunc(context.Background(), tenant, nil, func(events.ScreenshotChanged) {},
		func() { done <- struct{}{} }))
	require.NoError(t, bus.Close())
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("done was not called when the bus closed")
	}
	require.Len(t, done, 0, "done is called once")
}

// TestPublishOnlyBusHoldsNoSubscription: the worker's bus publishes through Redis to the API
// instances' buses without subscribing itself (it would decode every event for nobody).
func TestPublishOnlyBusHoldsNoSubscription(t *testing.T) {
	t.Parallel()
	rdb := testredis.Client(t)
	channel := "test-events-" + uuid.NewString()
	ctx := context.Background()
	publisher := events.NewBus(events.BusOpts{Redis: rdb, Channel: channel, PublishOnly: true})
	t.Cleanup(func() { _ = publisher.Close() })
	require.NoError(t, publisher.Ready(ctx))
	counts, err := rdb.PubSubNumSub(ctx, channel).Result()
	require.NoError(t, err)
	require.Zero(t, counts[channel], "a publish-only bus subscribes to nothing")
	_, err = publisher.SubscribeScreenshots(ctx, uuid.New(), nil)
	require.ErrorIs(t, err, events.ErrPublishOnly)

	subscriber := events.NewBus(events.BusOpts{Redis: rdb, Channel: channel})
	t.Cleanup(func() { _ = subscriber.Close() })
	require.NoError(t, subscriber.Ready(ctx))
	tenant := uuid.New()
	ch, err := subscriber.SubscribeScreenshots(ctx, tenant, nil)
	require.NoError(t, err)
	shot := uuid.New()
	require.NoError(t, publisher.PublishScreenshot(ctx, events.ScreenshotChanged{TenantID: tenant, ScreenshotID: shot}))
	select {
	case e := <-ch:
		require.Equal(t, shot, e.ScreenshotID)
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber's bus did not hear the publish-only bus")
	}
}
