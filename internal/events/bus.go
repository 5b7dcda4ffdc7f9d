package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// DefaultChannel is the Redis channel every instance publishes screenshot events on.
const DefaultChannel = "workingtracker:screenshots"

// DefaultBuffer is how many events wait for one slow subscriber before the next are dropped.
const DefaultBuffer = 16

// ErrClosed is returned by a closed Bus.
var ErrClosed = errors.New("events: bus closed")

// Observer counts what the bus does (internal/metrics implements it); every method must be
// cheap and safe for concurrent use.
type Observer interface {
	// Published reports a publish and its outcome (err nil: accepted by Redis, or delivered in
	// process without Redis).
	Published(err error)
	// Delivered and Dropped report events handed to subscribers' buffers, and events dropped
	// because a subscriber's buffer was full.
	Delivered(n int)
	Dropped(n int)
	// SubscriptionsChanged reports subscriptions opened (+1) and ended (-1).
	SubscriptionsChanged(delta int)
	// PubSubFailed reports a failure of the Redis subscription (lost connection, Redis down);
	// PubSubConnected reports whether it is subscribed now.
	PubSubFailed(err error)
	PubSubConnected(up bool)
}

// BusOpts configure a Bus.
type BusOpts struct {
	// Redis, when set, carries events between instances (REDIS_URL); nil: in process only.
	Redis redis.UniversalClient
	// Channel is the Redis channel (default DefaultChannel).
	Channel string
	// Buffer is each subscriber's buffer (default DefaultBuffer).
	Buffer   int
	Logger   *slog.Logger
	Observer Observer
	// PublishOnly is a process that publishes and never subscribes (the worker): it holds no
	// Redis subscription, whose every message it would decode for nobody; subscribing on it
	// fails with ErrPublishOnly.
	PublishOnly bool
}

// ErrPublishOnly is a subscription on a publish-only bus.
var ErrPublishOnly = errors.New("events: this bus only publishes")

// Bus fans screenshot events out to the subscribers of this process and, through Redis, of
// every other instance.
//
// With Redis, the process holds ONE Redis subscription, to one channel that carries every
// tenant's events, and routes them to its own subscribers by tenant in memory. One channel costs
// each instance the decoding of every event (about 150 bytes of JSON; a thousand a second are
// a few milliseconds of CPU), and buys a subscription that is already in place when a client
// subscribes: a subscriber registers locally, synchronously, so "subscribe, then read the
// current state" never misses an event in between. Per-tenant channels would save the decoding
// but need a SUBSCRIBE round trip (and its confirmation) for each tenant's first subscriber, and
// an UNSUBSCRIBE race for its last.
//
// Each subscriber has a bounded buffer. A subscriber that does not keep up never blocks the
// bus: an event that finds its buffer full is dropped for it and counted (Observer.Dropped).
// Events say only that a screenshot changed; a subscriber re-reads the row when it takes an
// event, so the events still in its buffer lead it to the latest state (for one screenshot
// nothing is lost but intermediate states).
//
// Redis down: PublishScreenshot returns the error (the caller logs it) and still delivers the
// event to this instance's subscribers; the subscription's failures are logged and counted, and
// go-redis reconnects and subscribes again (the receive loop retries with backoff). Events
// published while it was down are lost for other instances, so when it is back every
// subscriber gets a resync event (ScreenshotChanged.Resync): re-read what you watch.
type Bus struct {
	rdb     redis.UniversalClient
	channel string
	buffer  int
	logger  *slog.Logger
	obs     Observer
	// publishOnly: no subscription, no receive loop (BusOpts.PublishOnly).
	publishOnly bool

	mu       sync.RWMutex
	closed   bool
	byTenant map[uuid.UUID]map[*subscriber]struct{}
	active   int

	ps        *redis.PubSub
	ready     chan struct{} // closed once the Redis subscription is first confirmed
	readyOnce sync.Once
	stop      context.CancelFunc
	done      chan struct{}
}

// subscriber is a channel (SubscribeScreenshots) or a handler (SubscribeScreenshotsFunc).
type subscriber struct {
	ch    chan ScreenshotChanged
	match func(ScreenshotChanged) bool

	// A handler's events wait in queue; a goroutine runs while any do (running).
	handle  func(ScreenshotChanged)
	done    func()
	mu      sync.Mutex
	queue   []ScreenshotChanged
	running bool
	ended   bool
}

// offer queues e for s without waiting, or reports that s's buffer of max events is full.
func (s *subscriber) offer(e ScreenshotChanged, max int) bool {
	if s.ch != nil {
		select {
		case s.ch <- e:
			return true
		default:
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || len(s.queue) >= max {
		return false
	}
	s.queue = append(s.queue, e)
	if !s.running {
		s.running = true
		go s.drain()
	}
	return true
}

// drain hands the queued events to the handler one at a time, in order, and returns when none
// is left; after the subscription ended it calls done, once.
func (s *subscriber) drain() {
	for {
		s.mu.Lock()
		if s.ended || len(s.queue) == 0 {
			s.running, s.queue = false, nil
			ended := s.ended
			s.mu.Unlock()
			if ended {
				s.done()
			}
			return
		}
		e := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.handle(e)
	}
}

// end closes s's channel, or calls its done once no handler runs any more.
func (s *subscriber) end() {
	if s.ch != nil {
		close(s.ch)
		return
	}
	s.mu.Lock()
	s.ended = true
	running := s.running
	s.queue = nil
	s.mu.Unlock()
	if !running {
		s.done()
	}
}

// NewBus returns a running bus; Close stops it.
func NewBus(opts BusOpts) *Bus {
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	b := &Bus{rdb: opts.Redis, channel: opts.Channel, buffer: opts.Buffer, logger: opts.Logger, obs: opts.Observer,
		byTenant: map[uuid.UUID]map[*subscriber]struct{}{}, ready: make(chan struct{}), done: make(chan struct{}),
		publishOnly: opts.PublishOnly}
	if b.rdb == nil || b.publishOnly {
		b.readyOnce.Do(func() { close(b.ready) })
		close(b.done)
		return b
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	// Subscribe sends SUBSCRIBE now when Redis answers; when it does not, the receive loop
	// connects (and subscribes) once it does.
	b.ps = b.rdb.Subscribe(ctx)
	if err := b.ps.Subscribe(ctx, b.channel); err != nil {
		b.failed(err)
	}
	go b.receive(ctx)
	return b
}

// Ready waits until the Redis subscription is confirmed (at once without Redis): events
// published from then on reach this bus's subscribers.
func (b *Bus) Ready(ctx context.Context) error {
	select {
	case <-b.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the Redis subscription and every subscriber's channel.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, subs := range b.byTenant {
		for s := range subs {
			s.end()
		}
	}
	n := b.active
	b.byTenant, b.active = map[uuid.UUID]map[*subscriber]struct{}{}, 0
	b.mu.Unlock()
	if n > 0 {
		b.obs.SubscriptionsChanged(-n)
	}
	var err error
	if b.ps != nil {
		b.stop()
		err = b.ps.Close()
		<-b.done
	}
	return err
}

// Active is the number of subscriptions open now.
func (b *Bus) Active() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.active
}

// PublishScreenshot implements Publisher: it sends e to every instance's subscribers of e's
// tenant. With Redis, a failed publish returns its error and delivers e to this instance's
// subscribers only.
func (b *Bus) PublishScreenshot(ctx context.Context, e ScreenshotChanged) error {
	if b.rdb == nil {
		b.deliver(e)
		b.obs.Published(nil)
		return nil
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode screenshot event: %w", err)
	}
	if err := b.rdb.Publish(ctx, b.channel, payload).Err(); err != nil {
		b.obs.Published(err)
		// This instance's subscribers still learn of it; should Redis have taken it after
		// all, they see it twice, and a re-read twice changes nothing.
		b.deliver(e)
		return fmt.Errorf("publish screenshot event: %w", err)
	}
	b.obs.Published(nil)
	return nil
}

// SubscribeScreenshots returns the events of tenantID's screenshots that match (nil: all),
// and resync events (e.Resync()), until ctx ends: then the channel is closed. match runs on
// the bus's goroutine for every event of the tenant and must be quick (no I/O).
func (b *Bus) SubscribeScreenshots(ctx context.Context, tenantID uuid.UUID, match func(ScreenshotChanged) bool) (<-chan ScreenshotChanged, error) {
	s := &subscriber{ch: make(chan ScreenshotChanged, b.buffer), match: match}
	if err := b.subscribe(ctx, tenantID, s); err != nil {
		return nil, err
	}
	return s.ch, nil
}

// SubscribeScreenshotsFunc is SubscribeScreenshots with a handler in place of a channel: handle
// is called with each event, one call at a time and in order, on a goroutine that exists only
// while events wait for it (a subscription that waits for events holds no goroutine). Up to
// the bus's buffer of events wait; the next are dropped and counted, as for a channel. Once ctx
// ends, no more calls start and done is called, once, after the last call returned. On error,
// neither is ever called.
func (b *Bus) SubscribeScreenshotsFunc(ctx context.Context, tenantID uuid.UUID, match func(ScreenshotChanged) bool,
	handle func(ScreenshotChanged), done func()) error {
	return b.subscribe(ctx, tenantID, &subscriber{match: match, handle: handle, done: done})
}

func (b *Bus) subscribe(ctx context.Context, tenantID uuid.UUID, s *subscriber) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.publishOnly {
		return ErrPublishOnly
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	subs := b.byTenant[tenantID]
	if subs == nil {
		subs = map[*subscriber]struct{}{}
		b.byTenant[tenantID] = subs
	}
	subs[s] = struct{}{}
	b.active++
	b.mu.Unlock()
	b.obs.SubscriptionsChanged(1)
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		subs := b.byTenant[tenantID]
		if _, ok := subs[s]; !ok { // the bus was closed
			b.mu.Unlock()
			return
		}
		delete(subs, s)
		if len(subs) == 0 {
			delete(b.byTenant, tenantID)
		}
		b.active--
		b.mu.Unlock()
		s.end()
		b.obs.SubscriptionsChanged(-1)
	})
	return nil
}

// Resync reports whether e is a resync event: events may have been lost (Redis was down), so
// re-read whatever is watched. It names no screenshot.
func (e ScreenshotChanged) Resync() bool { return e.ScreenshotID == uuid.Nil }

// deliver hands e to its tenant's matching subscribers without waiting for any.
func (b *Bus) deliver(e ScreenshotChanged) {
	delivered, dropped := 0, 0
	b.mu.RLock()
	for s := range b.byTenant[e.TenantID] {
		if s.match != nil && !s.match(e) {
			continue
		}
		if s.offer(e, b.buffer) {
			delivered++
		} else {
			dropped++
		}
	}
	b.mu.RUnlock()
	if delivered > 0 {
		b.obs.Delivered(delivered)
	}
	if dropped > 0 {
		b.obs.Dropped(dropped)
	}
}

// resync sends every subscriber a resync event.
func (b *Bus) resync() {
	delivered, dropped := 0, 0
	b.mu.RLock()
	for tenant, subs := range b.byTenant {
		for s := range subs {
			if s.offer(ScreenshotChanged{TenantID: tenant}, b.buffer) {
				delivered++
			} else {
				dropped++ // events are waiting already: they lead to a re-read
			}
		}
	}
	b.mu.RUnlock()
	if delivered > 0 {
		b.obs.Delivered(delivered)
	}
	if dropped > 0 {
		b.obs.Dropped(dropped)
	}
}

// receiveTimeout is how long the subscription may be silent before it is pinged: a Redis that
// vanished without closing the connection is noticed within about twice this.
const receiveTimeout = 15 * time.Second

// receive reads the Redis subscription until the bus closes. go-redis drops a broken
// connection; the next read dials again and subscribes again, which Redis confirms with a
// subscribe message.
func (b *Bus) receive(ctx context.Context) {
	defer close(b.done)
	backoff := 50 * time.Millisecond
	down := false
	for {
		msg, err := b.ps.ReceiveTimeout(ctx, receiveTimeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Silence: ask, so that a dead connection fails and is replaced.
				if err := b.ps.Ping(ctx); err == nil {
					continue
				}
			}
			if !down {
				b.obs.PubSubConnected(false)
			}
			down = true
			b.failed(err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			backoff = 50 * time.Millisecond
			b.obs.PubSubConnected(true)
			b.readyOnce.Do(func() { close(b.ready) })
			if down {
				down = false
				b.logger.Info("screenshot events: redis subscription restored")
				b.resync()
			}
		case *redis.Message:
			var e ScreenshotChanged
			if err := json.Unmarshal([]byte(m.Payload), &e); err != nil || e.TenantID == uuid.Nil {
				b.logger.Warn("screenshot events: undecodable event ignored", "err", err)
				continue
			}
			b.deliver(e)
		}
	}
}

func (b *Bus) failed(err error) {
	b.obs.PubSubFailed(err)
	b.logger.Warn("screenshot events: redis subscription failed; retrying", "err", err)
}

type noObserver struct{}

func (noObserver) Published(error)          {}
func (noObserver) Delivered(int)            {}
func (noObserver) Dropped(int)              {}
func (noObserver) SubscriptionsChanged(int) {}
func (noObserver) PubSubFailed(error)       {}
func (noObserver) PubSubConnected(bool)     {}
