package persisted

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/store"
)

// DocumentIDKey is where the HTTP transport puts a request's top-level documentId (GraphQL over
// HTTP's persisted documents) among the request's extensions, for Operations to read.
const DocumentIDKey = "documentId"

// Store reads and records registered operations (store.Store).
type Store interface {
	// PersistedOperation is the tenant's operation with this id, or NOT_FOUND.
	PersistedOperation(ctx context.Context, scope store.Scope, id string) (*store.PersistedOperation, error)
	// TouchPersistedOperation records a run (at most once a minute).
	TouchPersistedOperation(ctx context.Context, scope store.Scope, id string) error
}

// Opts configures Operations.
type Opts struct {
	Store Store
	// Cache is the APQ cache (NewRedisCache with Redis; default NewLocalCache).
	Cache Cache
	// RegisteredOnly makes every principal run only registered operations
	// (TRUSTED_DOCUMENTS=only, outside development); BI keys always do.
	RegisteredOnly bool
	Logger         *slog.Logger
	// TouchEvery spaces the recorded uses of one operation by one instance (default a minute).
	TouchEvery time.Duration
	Now        func() time.Time
}

// Operations is the gqlgen extension that resolves operations by id (see the package
// documentation). Install it before the document limits: it fills the query they check.
type Operations struct {
	opts Opts
	// registered remembers registered operations by tenant and id: rows never change.
	registered *expirable.LRU[string, *registered]
}

type registered struct {
	op *store.PersistedOperation
	// touched is when this instance last recorded a use (unix nanoseconds).
	touched atomic.Int64
}

var (
	_ graphql.HandlerExtension          = (*Operations)(nil)
	_ graphql.OperationParameterMutator = (*Operations)(nil)
	_ graphql.OperationInterceptor      = (*Operations)(nil)
)

// New returns the extension.
func New(opts Opts) *Operations {
	if opts.Cache == nil {
		opts.Cache = NewLocalCache(0, 0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TouchEvery <= 0 {
		opts.TouchEvery = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Operations{opts: opts, registered: expirable.NewLRU[string, *registered](DefaultLocalEntries, nil, time.Hour)}
}

func (*Operations) ExtensionName() string { return "PersistedOperations" }

func (o *Operations) Validate(graphql.ExecutableSchema) error {
	if o.opts.Store == nil {
		return fmt.Errorf("persisted: Opts.Store is required")
	}
	return nil
}

// Info says how a request's operation was found by id, for the layers after it (the HTTP
// transport's caching of persisted GETs).
type Info struct {
	// ID is the operation's SHA-256, in lowercase hex.
	ID string
	// Registered: a registered operation of the tenant (Operation says which); otherwise an
	// APQ query.
	Registered bool
	Operation  *store.PersistedOperation
	// SentQuery: the request carried the text besides the id (an APQ registration).
	SentQuery bool
	tenant    uuid.UUID
}

const statsKey = "PersistedOperation"

// FromContext is the Info of the operation in ctx, when it was sent by id.
func FromContext(ctx context.Context) (*Info, bool) {
	if !graphql.HasOperationContext(ctx) {
		return nil, false
	}
	return Of(graphql.GetOperationContext(ctx))
}

// Of is the Info of an operation context, when its operation was sent by id.
func Of(rc *graphql.OperationContext) (*Info, bool) {
	if rc == nil {
		return nil, false
	}
	info, ok := rc.Stats.GetExtension(statsKey).(*Info)
	return info, ok && info != nil
}

// registeredOnly reports whether p may run registered operations only.
func (o *Operations) registeredOnly(p *auth.Principal) bool {
	return o.opts.RegisteredOnly || policy.RegisteredOperationsOnly(p)
}

// MutateOperationParameters resolves an id into the query text before anything parses it.
func (o *Operations) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	p, authenticated := auth.PrincipalFrom(ctx)
	id, hasID, gqlErr := requestedID(params.Extensions)
	if gqlErr != nil {
		return gqlErr
	}
	only := authenticated && o.registeredOnly(p)
	if !hasID {
		if only {
			return refusal(apperr.PersistedQueryRequired, "this client may run only the operations registered for its organisation: "+
				"send the operation's id as extensions.persistedQuery.sha256Hash or documentId")
		}
		return nil
	}
	if params.Query != "" && sha256Hex(params.Query) != id {
		return refusal(apperr.PersistedQueryHashMismatch, "the query's SHA-256 is not the id sent with it: nothing was run or stored")
	}
	if !authenticated {
		// Every transport authenticates first; without a principal there is no tenant to look in.
		return notFound()
	}
	scope := store.Scope{TenantID: p.TenantID}
	info := &Info{ID: id, SentQuery: params.Query != "", tenant: p.TenantID}
	key := cacheKey(p.TenantID, id)
	reg, known := o.registered.Get(key)
	if !known && !only && params.Query == "" {
		// A client that may send text most often sends APQ ids: the cache first, then the
		// registry, so that an APQ hit costs no database read.
		q, ok, err := o.opts.Cache.Get(ctx, p.TenantID, id)
		if err != nil {
			o.opts.Logger.WarnContext(ctx, "APQ cache unavailable: answered as a miss", "err", err, "request_id", reqid.From(ctx))
		}
		if ok {
			params.Query = q
			o.setInfo(ctx, info)
			return nil
		}
	}
	if !known {
		op, err := o.opts.Store.PersistedOperation(ctx, scope, id)
		switch {
		case apperr.Is(err, apperr.NotFound):
		case err != nil:
			rid := reqid.From(ctx)
			o.opts.Logger.ErrorContext(ctx, "read persisted operation", "err", err, "request_id", rid)
			return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": string(apperr.Internal), "requestId": rid}}
		default:
			reg, known = &registered{op: op}, true
			o.registered.Add(key, reg)
		}
	}
	if known {
		if params.Query == "" {
			params.Query = reg.op.Body
		}
		info.Registered, info.Operation = true, reg.op
		o.setInfo(ctx, info)
		o.touch(ctx, scope, reg)
		return nil
	}
	if only {
		return refusal(apperr.PersistedQueryRequired, "no operation with this id is registered for your organisation, "+
			"and this client may run only registered operations")
	}
	if params.Query == "" {
		return notFound()
	}
	o.setInfo(ctx, info) // stored once admitted (InterceptOperation)
	return nil
}

// InterceptOperation stores an APQ registration once the operation is admitted: it parsed,
// validated and is about to run (a mutation sent over GET never gets here), and its text holds
// no string literal (holdsStringLiterals).
func (o *Operations) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if info, ok := FromContext(ctx); ok && info.SentQuery && !info.Registered {
		rc := graphql.GetOperationContext(ctx)
		if holdsStringLiterals(rc.Doc) {
			return next(ctx) // see holdsStringLiterals: the text may be personal data
		}
		if err := o.opts.Cache.Add(ctx, info.tenant, info.ID, rc.RawQuery); err != nil {
			o.opts.Logger.WarnContext(ctx, "APQ cache unavailable: query not stored", "err", err, "request_id", reqid.From(ctx))
		}
	}
	return next(ctx)
}

func (o *Operations) setInfo(ctx context.Context, info *Info) {
	graphql.GetOperationContext(ctx).Stats.SetExtension(statsKey, info)
}

// touch records a use of a registered operation, at most once per TouchEvery on this instance
// (and once a minute in the table, whatever the instances): a BI dashboard refreshing every few
// seconds writes once a minute, not on every request. A failure is logged, never the request's.
func (o *Operations) touch(ctx context.Context, scope store.Scope, reg *registered) {
	now := o.opts.Now().UnixNano()
	last := reg.touched.Load()
	if last != 0 && now-last < int64(o.opts.TouchEvery) {
		return
	}
	if !reg.touched.CompareAndSwap(last, now) {
		return // another request of this instance records it
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := o.opts.Store.TouchPersistedOperation(ctx, scope, reg.op.ID); err != nil {
		o.opts.Logger.WarnContext(ctx, "record use of persisted operation", "err", err, "request_id", reqid.From(ctx))
	}
}

// requestedID reads the id a request names its operation by: extensions.persistedQuery (Apollo)
// or documentId (GraphQL over HTTP).
func requestedID(ext map[string]any) (string, bool, *gqlerror.Error) {
	if raw, ok := ext[DocumentIDKey]; ok && raw != nil {
		s, _ := raw.(string)
		hexID, cut := strings.CutPrefix(s, "sha256:")
		if !cut && strings.Contains(s, ":") {
			return "", false, refusal(apperr.BadRequest, `documentId must be "sha256:" followed by the operation's SHA-256 in hex`)
		}
		if !isSHA256Hex(hexID) {
			return "", false, refusal(apperr.BadRequest, `documentId must be "sha256:" followed by the operation's SHA-256 in hex`)
		}
		return strings.ToLower(hexID), true, nil
	}
	raw, ok := ext["persistedQuery"]
	if !ok || raw == nil {
		return "", false, nil
	}
	pq, ok := raw.(map[string]any)
	if !ok {
		return "", false, refusal(apperr.BadRequest, "extensions.persistedQuery must be an object {version: 1, sha256Hash}")
	}
	if v := fmt.Sprint(pq["version"]); v != "1" {
		return "", false, refusal(apperr.BadRequest, "extensions.persistedQuery.version must be 1")
	}
	hash, _ := pq["sha256Hash"].(string)
	if !isSHA256Hex(hash) {
		return "", false, refusal(apperr.BadRequest, "extensions.persistedQuery.sha256Hash must be a SHA-256 in hex (64 characters)")
	}
	return strings.ToLower(hash), true, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func refusal(code apperr.Code, message string) *gqlerror.Error {
	e := &apperr.Error{Code: code, Message: message}
	return &gqlerror.Error{Message: e.Message, Extensions: map[string]any{"code": string(e.Code)}}
}

// notFound is Apollo's answer to an unknown id, which its clients recognise by message or code.
func notFound() *gqlerror.Error {
	return refusal(apperr.PersistedQueryNotFound, "PersistedQueryNotFound")
}
