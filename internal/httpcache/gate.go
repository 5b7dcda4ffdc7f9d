package httpcache

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/auth"
	"github.com/workingtracker/api/internal/cost"
	"github.com/workingtracker/api/internal/persisted"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/store"
)

// Store reads what validators are derived from (store.Store).
type Store interface {
	// ReportFreshness says when the report views were refreshed and are next due.
	ReportFreshness(ctx context.Context) (store.ReportFreshness, error)
	// ProjectsVersion digests the tenant's projects as project hours reports show them.
	ProjectsVersion(ctx context.Context, scope store.Scope) (string, error)
}

// Opts configures the Gate.
type Opts struct {
	Store Store
	// Org answers the row-level question of the principal's reach (policy.NewScope).
	Org policy.Org
	// Budgets charge cost.RevalidationCost for a 304; without a Limiter, 304s are free.
	Budgets cost.Budgets
	Logger  *slog.Logger
	// Version is part of every tag, so that a deployment whose answers may differ issues new
	// ones (default: the binary's VCS revision, from its build information).
	Version string
	Now     func() time.Time
}

// Gate decides the validators of persisted GETs and answers revalidations (see the package
// documentation). Install AroundOperations after the document checks and before the budget.
type Gate struct{ opts Opts }

// New returns the gate.
func New(opts Opts) *Gate {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Version == "" {
		opts.Version = buildVersion()
	}
	return &Gate{opts: opts}
}

func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			v += " " + s.Value
		}
	}
	return v
}

// Request is a GET's caching state, shared by the HTTP transport, which attaches it before the
// operation runs and writes the headers after, and the Gate, which decides them.
type Request struct {
	// IfNoneMatch is the request's If-None-Match header.
	IfNoneMatch string
	// MediaType is the response's media type (a representation of its own).
	MediaType string

	// ETag is the answer's validator; empty: none (live data, or no validator could be read).
	ETag string
	// CacheControl replaces the default no-store when ETag is set.
	CacheControl string
	// NotModified: the answer is 304 Not Modified; the operation did not run.
	NotModified bool
}

const statsKey = "HTTPCache"

// Attach marks rc's operation as a GET that may be cached, and returns the state the Gate fills.
func Attach(rc *graphql.OperationContext, ifNoneMatch, mediaType string) *Request {
	r := &Request{IfNoneMatch: ifNoneMatch, MediaType: mediaType}
	rc.Stats.SetExtension(statsKey, r)
	return r
}

func requestOf(rc *graphql.OperationContext) *Request {
	r, _ := rc.Stats.GetExtension(statsKey).(*Request)
	return r
}

// AroundOperations is the gate (an operation middleware).
func (g *Gate) AroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	rc := graphql.GetOperationContext(ctx)
	req := requestOf(rc)
	if req == nil {
		return next(ctx)
	}
	info, persistedOp := persisted.Of(rc)
	p, authenticated := auth.PrincipalFrom(ctx)
	if !persistedOp || !authenticated {
		return next(ctx)
	}
	plan := Classify(rc.Operation, rc.Variables)
	if plan.Class == Live || !g.allowed(ctx, p, plan) {
		return next(ctx) // no-store; a refusal is the operation's to answer
	}
	scope, err := policy.NewScope(ctx, g.opts.Org, p)
	if err != nil {
		return next(ctx) // the request scope fails the same way, and answers it
	}
	tag, cacheControl, err := g.validator(ctx, p, scope, plan, info.ID, rc, req.MediaType)
	if err != nil {
		// No validator: the answer is sent uncached, which is always right.
		g.opts.Logger.WarnContext(ctx, "HTTP cache validator unavailable", "err", err, "request_id", reqid.From(ctx))
		return next(ctx)
	}
	// The server's request scope reuses this one (policy.ScopeFrom): computed once.
	ctx = policy.WithScope(ctx, scope)
	req.ETag, req.CacheControl = tag, cacheControl
	if Matches(req.IfNoneMatch, tag) {
		if refusal := g.opts.Budgets.ChargeFixed(ctx, p, cost.RevalidationCost, g.opts.Logger); refusal != nil {
			req.ETag = ""
			return refusal
		}
		req.NotModified = true
		return graphql.OneShot(&graphql.Response{})
	}
	return next(ctx)
}

// allowed reports whether p passes the role rules of the fields plan reads: only then may a
// 304 stand for the answer (a refused principal gets the refusal, from the operation).
func (g *Gate) allowed(ctx context.Context, p *auth.Principal, plan Plan) bool {
	for _, roles := range plan.Roles {
		if !policy.HasAnyRole(p, roles) {
			return false
		}
	}
	if plan.KnownRole {
		if _, err := policy.RequireKnownRole(ctx); err != nil {
			return false
		}
	}
	return true
}

// validator derives the tag and Cache-Control of an answer before it runs (so a refresh that
// lands while it runs makes the next revalidation miss, never hit stale figures).
func (g *Gate) validator(ctx context.Context, p *auth.Principal, scope store.Scope, plan Plan, id string,
	rc *graphql.OperationContext, mediaType string,
) (string, string, error) {
	fresh, err := g.opts.Store.ReportFreshness(ctx)
	if err != nil {
		return "", "", err
	}
	var projects string
	if plan.Class == ViewsAndProjects {
		if projects, err = g.opts.Store.ProjectsVersion(ctx, scope); err != nil {
			return "", "", err
		}
	}
	vars, err := json.Marshal(rc.Variables) // map keys sorted: canonical
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	principal := "employee:" + p.EmployeeID.String()
	if p.Service {
		principal = "key:" + p.APIKeyID.String()
	}
	roles := policy.HeldRoles(p)
	slices.Sort(roles)
	next := ""
	if fresh.NextRefreshAt != nil {
		next = fresh.NextRefreshAt.UTC().Format(time.RFC3339Nano)
	}
	for _, part := range []string{"wt-httpcache/1", g.opts.Version, mediaType, p.TenantID.String(), principal,
		strings.Join(roles, ","), reach(scope.Visible), id, rc.OperationName, string(vars),
		fresh.RefreshedAt.UTC().Format(time.RFC3339Nano), next, projects} {
		writePart(h, part)
	}
	tag := `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:24]) + `"`
	if plan.Weak {
		tag = "W/" + tag
	}
	cacheControl := "private, no-cache"
	if plan.Class != ViewsAndProjects && fresh.NextRefreshAt != nil {
		if left := int64(fresh.NextRefreshAt.Sub(g.opts.Now()) / time.Second); left > 0 {
			cacheControl = "private, max-age=" + strconv.FormatInt(left, 10)
		}
	}
	return tag, cacheControl, nil
}

// reach names a scope's row reach: everyone, or the sorted employees it sees.
func reach(visible []uuid.UUID) string {
	if visible == nil {
		return "*"
	}
	ids := make([]string, len(visible))
	for i, id := range visible {
		ids[i] = id.String()
	}
	slices.Sort(ids)
	return strings.Join(slices.Compact(ids), ",")
}

// writePart writes s length-prefixed, so that parts cannot run into each other.
func writePart(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	_, _ = h.Write(n[:])
	_, _ = h.Write([]byte(s))
}

// Matches reports whether an If-None-Match header names tag, by weak comparison (RFC 9110
// 13.1.2: W/ prefixes are ignored). "*" matches nothing here: a client that has no tag of ours
// has no answer of ours to keep.
func Matches(ifNoneMatch, tag string) bool {
	if ifNoneMatch == "" || tag == "" {
		return false
	}
	want := strings.TrimPrefix(tag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == want {
			return true
		}
	}
	return false
}
