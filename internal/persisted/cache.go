package persisted

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/redis/go-redis/v9"
)

// Bounds of the APQ cache.
const (
	// DefaultTTL is how long a cached query lives after it was last registered (APQ_CACHE_TTL).
	DefaultTTL = 24 * time.Hour
	// MaxQueryBytes bounds a query the cache keeps: a longer text runs, but is not stored (its
	// client keeps sending it whole).
	MaxQueryBytes = 32 << 10
	// DefaultLocalEntries bounds the in-process LRU (at most 2,000 × 32 KiB = 64 MiB; real
	// queries are a few KiB).
	DefaultLocalEntries = 2000
)

// Cache is the APQ cache: query texts by tenant and SHA-256 id. An error is the cache's fault
// (Redis unreachable); callers treat it as a miss.
type Cache interface {
	Get(ctx context.Context, tenant uuid.UUID, id string) (query string, ok bool, err error)
	Add(ctx context.Context, tenant uuid.UUID, id, query string) error
}

func cacheKey(tenant uuid.UUID, id string) string { return tenant.String() + ":" + id }

// LocalCache is the in-process APQ cache of an instance without Redis: an LRU whose entries
// expire TTL after they were added.
type LocalCache struct {
	lru *expirable.LRU[string, string]
}

// NewLocalCache keeps up to entries queries (DefaultLocalEntries when 0) for ttl (DefaultTTL
// when 0).
func NewLocalCache(entries int, ttl time.Duration) *LocalCache {
	if entries <= 0 {
		entries = DefaultLocalEntries
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &LocalCache{lru: expirable.NewLRU[string, string](entries, nil, ttl)}
}

func (c *LocalCache) Get(_ context.Context, tenant uuid.UUID, id string) (string, bool, error) {
	q, ok := c.lru.Get(cacheKey(tenant, id))
	return q, ok, nil
}

func (c *LocalCache) Add(_ context.Context, tenant uuid.UUID, id, query string) error {
	if len(query) > MaxQueryBytes {
		return nil
	}
	c.lru.Add(cacheKey(tenant, id), query)
	return nil
}

// RedisCache is the APQ cache shared by every instance: keys "apq:<tenant>:<id>" with a TTL,
// renewed when a client registers the text again. Texts are immutable (the key is their hash),
// so each instance also keeps the ones it read in a local LRU and asks Redis only on a local
// miss.
type RedisCache struct {
	rdb   redis.UniversalClient
	ttl   time.Duration
	local *LocalCache
}

// NewRedisCache shares the cache through rdb; ttl is DefaultTTL when 0.
func NewRedisCache(rdb redis.UniversalClient, ttl time.Duration) *RedisCache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	// Local entries live shorter than Redis's, so a flushed Redis is noticed within the hour.
	return &RedisCache{rdb: rdb, ttl: ttl, local: NewLocalCache(DefaultLocalEntries, min(ttl, time.Hour))}
}

func redisKey(tenant uuid.UUID, id string) string { return "apq:" + cacheKey(tenant, id) }

func (c *RedisCache) Get(ctx context.Context, tenant uuid.UUID, id string) (string, bool, error) {
	if q, ok, _ := c.local.Get(ctx, tenant, id); ok {
		return q, true, nil
	}
	q, err := c.rdb.Get(ctx, redisKey(tenant, id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read the APQ cache: %w", err)
	}
	_ = c.local.Add(ctx, tenant, id, q)
	return q, true, nil
}

func (c *RedisCache) Add(ctx context.Context, tenant uuid.UUID, id, query string) error {
	if len(query) > MaxQueryBytes {
		return nil
	}
	_ = c.local.Add(ctx, tenant, id, query)
	if err := c.rdb.Set(ctx, redisKey(tenant, id), query, c.ttl).Err(); err != nil {
		return fmt.Errorf("write the APQ cache: %w", err)
	}
	return nil
}
