package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/store"
)

// Kinds of security events; an entry's action is "security.<kind>".
const (
	KindAuthenticationFailed = "authentication_failed"
	KindPermissionDenied     = "permission_denied"
	KindMFARequired          = "mfa_required"
	KindRateLimited          = "rate_limited"
)

// Defaults of SecurityEventsOpts.
const (
	DefaultFlushEvery = time.Minute
	DefaultMaxPending = 1000
	// DefaultMaxPendingPerTenant bounds one tenant's share of the aggregates of a window.
	DefaultMaxPendingPerTenant = 100
)

// Appender records entries (the store).
type Appender interface {
	AppendAudit(ctx context.Context, scope store.Scope, e store.AuditEntry) error
}

// SecurityEventsOpts tunes SecurityEvents.
type SecurityEventsOpts struct {
	// FlushEvery is the aggregation window: occurrences of one kind by one actor within it are
	// one entry (default DefaultFlushEvery).
	FlushEvery time.Duration
	// MaxPending bounds the aggregates held between flushes (default DefaultMaxPending): an
	// occurrence that would need another is dropped and counted, so memory and the entries
	// written per window stay bounded whatever the flood.
	MaxPending int
	// MaxPendingPerTenant bounds the aggregates one tenant holds (default
	// DefaultMaxPendingPerTenant, at most MaxPending): a flood from one tenant's principals
	// cannot take the window's room and silence every other tenant's events.
	MaxPendingPerTenant int
	Logger              *slog.Logger
	// Registerer, when set, exports workingtracker_audit_security_events_total{kind} and
	// workingtracker_audit_security_events_dropped_total.
	Registerer prometheus.Registerer
}

// SecurityEvents aggregates security events in memory per (tenant, actor, kind, detail, window)
// and writes each aggregate as one audit entry with its count when the window is flushed
// (Run, every FlushEvery; Flush). The detail is the refused root field (permission_denied,
// mfa_required, rate_limited: the operation's first root field) or the refusal's reason
// (authentication_failed), recorded as the entry's reason; the request id, client address and
// user agent are the first occurrence's. At most MaxPending aggregates are held: a window
// writes at most that many entries per instance.
type SecurityEvents struct {
	store Appender
	opts  SecurityEventsOpts
	mu    sync.Mutex
	held  map[eventKey]*eventAgg
	// perTenant counts the aggregates held per tenant (MaxPendingPerTenant).
	perTenant map[uuid.UUID]int
	seen      *prometheus.CounterVec
	drops     prometheus.Counter
	dropN     int
	logger    *slog.Logger
}

type eventKey struct {
	tenant    uuid.UUID
	actorType string
	actor     uuid.UUID
	kind      string
	detail    string
}

type eventAgg struct {
	count                          int
	requestID, clientIP, userAgent string
}

// NewSecurityEvents aggregates into s.
func NewSecurityEvents(s Appender, opts SecurityEventsOpts) *SecurityEvents {
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultFlushEvery
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxPendingPerTenant <= 0 {
		opts.MaxPendingPerTenant = DefaultMaxPendingPerTenant
	}
	opts.MaxPendingPerTenant = min(opts.MaxPendingPerTenant, opts.MaxPending)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &SecurityEvents{store: s, opts: opts, held: map[eventKey]*eventAgg{}, perTenant: map[uuid.UUID]int{}, logger: opts.Logger,
		seen: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workingtracker_audit_security_events_total",
			Help: "Security events (refusals) seen, by kind, before aggregation."}, []string{"kind"}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{Name: "workingtracker_audit_security_events_dropped_total",
			Help: "Security events not recorded because the aggregates of the window were at their bound."})}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(e.seen, e.drops)
	}
	return e
}

// Record counts one event of kind by ctx's principal (nothing without one: a refusal without a
// trustworthy tenant is the logs' and metrics' only).
func (e *SecurityEvents) Record(ctx context.Context, kind, detail string) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok || p.TenantID == uuid.Nil {
		return
	}
	e.record(ctx, p, kind, detail)
}

// InactiveAccount records a validly signed token refused because its employee's account is not
// open (auth.AccountsOpts.Inactive): its tenant is trustworthy, the token being the issuer's.
func (e *SecurityEvents) InactiveAccount(ctx context.Context, p *auth.Principal) {
	e.record(ctx, p, KindAuthenticationFailed, string(auth.ReasonInactiveAccount))
}

func (e *SecurityEvents) record(ctx context.Context, p *auth.Principal, kind, detail string) {
	e.seen.WithLabelValues(kind).Inc()
	actorType, actor := actorOf(p)
	k := eventKey{tenant: p.TenantID, actorType: actorType, actor: *actor, kind: kind, detail: detail}
	e.mu.Lock()
	defer e.mu.Unlock()
	if agg, ok := e.held[k]; ok {
		agg.count++
		return
	}
	if len(e.held) >= e.opts.MaxPending || e.perTenant[k.tenant] >= e.opts.MaxPendingPerTenant {
		e.drops.Inc()
		e.dropN++
		return
	}
	e.perTenant[k.tenant]++
	e.held[k] = &eventAgg{count: 1, requestID: reqid.From(ctx), clientIP: auth.ClientAddress(ctx), userAgent: UserAgent(ctx)}
}

// Refusals records the security events among a response's errors: one per kind and response.
func (e *SecurityEvents) Refusals(ctx context.Context, errs gqlerror.List) {
	done := map[string]bool{}
	for _, err := range errs {
		code, _ := err.Extensions["code"].(string)
		kind := kindOf(code)
		if kind == "" || done[kind] {
			continue
		}
		done[kind] = true
		e.Record(ctx, kind, refusedField(ctx, err))
	}
}

// refusedField names the root field a refusal concerns: the schema's name of the field its
// path starts at, or the operation's first root field when the refusal came before execution (a
// spent budget). Never the client's alias: an alias is the client's text, which would make each
// request a new aggregate (a flood past the bound) and put what it chose in the trail.
func refusedField(ctx context.Context, err *gqlerror.Error) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil {
		return ""
	}
	root := map[ast.Operation]string{ast.Query: "Query", ast.Mutation: "Mutation", ast.Subscription: "Subscription"}[oc.Operation.Operation]
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{root})
	if len(err.Path) > 0 {
		key, ok := err.Path[0].(ast.PathName)
		if !ok {
			return ""
		}
		for _, f := range fields {
			if f.Alias == string(key) {
				return f.Name
			}
		}
		return ""
	}
	if len(fields) > 0 {
		return fields[0].Name
	}
	return ""
}

// Flush writes every aggregate held as one entry (in its tenant's chain) and starts a new
// window. An aggregate that fails to write is logged and dropped: the next window goes on.
func (e *SecurityEvents) Flush(ctx context.Context) {
	e.mu.Lock()
	held, dropped := e.held, e.dropN
	e.held, e.perTenant, e.dropN = map[eventKey]*eventAgg{}, map[uuid.UUID]int{}, 0
	e.mu.Unlock()
	if dropped > 0 {
		e.logger.WarnContext(ctx, "security events over the bound of a window were not recorded",
			"dropped", dropped, "bound", e.opts.MaxPending)
	}
	for k, agg := range held {
		actor := k.actor
		entry := store.AuditEntry{ActorType: k.actorType, ActorID: &actor, Action: "security." + k.kind, Count: agg.count,
			Reason: k.detail, RequestID: agg.requestID, ClientIP: agg.clientIP, UserAgent: agg.userAgent}
		if err := e.store.AppendAudit(ctx, store.Scope{TenantID: k.tenant}, entry); err != nil {
			e.logger.ErrorContext(ctx, "write security event", "err", err, "tenant_id", k.tenant.String(), "kind", k.kind)
		}
	}
}

// Run flushes every FlushEvery until ctx ends, then once more (with a short deadline of its
// own), so a clean shutdown loses nothing.
func (e *SecurityEvents) Run(ctx context.Context) {
	t := time.NewTicker(e.opts.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			e.Flush(final)
			cancel()
			return
		case <-t.C:
			e.Flush(ctx)
		}
	}
}

// DroppedCounter counts the events dropped at the bound (tests, and registries of their own).
func (e *SecurityEvents) DroppedCounter() prometheus.Counter { return e.drops }
