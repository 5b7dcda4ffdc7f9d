package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// AccountChecker says whether an employee may still act in a tenant: an employee of that tenant
// whose account is open. The store implements it.
type AccountChecker interface {
	AccountActive(ctx context.Context, tenantID, employeeID uuid.UUID) (bool, error)
}

// ErrAccountInactive refuses a validly signed token whose subject is not (or no longer) an
// employee of its tenant with an open account: a terminated employee's tokens stop working
// without waiting for them to expire.
var ErrAccountInactive = fmt.Errorf("%w: account is not active", ErrUnauthenticated)

// DefaultAccountTTL is how long an account's answer is remembered: a terminated employee's
// tokens keep working at most this long after the termination commits.
const DefaultAccountTTL = 30 * time.Second

// AccountsOpts configures Accounts.
type AccountsOpts struct {
	// TTL is how long an answer is remembered (default DefaultAccountTTL; negative: never, every
	// request asks the checker). Size bounds how many (default 100,000).
	TTL  time.Duration
	Size int
	// Inactive, when set, is told of every token refused for its account (the audit trail's
	// security events: the token verified, so its tenant is trustworthy).
	Inactive func(ctx context.Context, p *Principal)
}

// Accounts checks that the employee a token names is still an open account of its tenant.
// Answers, both ways, are remembered per tenant and employee for a short TTL, so a client
// sending the same or a refreshed token costs one database read per TTL, not one per request.
type Accounts struct {
	checker  AccountChecker
	answers  *expirable.LRU[accountKey, bool]
	inactive func(ctx context.Context, p *Principal)
}

type accountKey struct{ tenant, employee uuid.UUID }

// NewAccounts builds Accounts over checker.
func NewAccounts(checker AccountChecker, opts AccountsOpts) *Accounts {
	if opts.TTL == 0 {
		opts.TTL = DefaultAccountTTL
	}
	if opts.Size <= 0 {
		opts.Size = 100_000
	}
	a := &Accounts{checker: checker, inactive: opts.Inactive}
	if opts.TTL > 0 {
		a.answers = expirable.NewLRU[accountKey, bool](opts.Size, nil, opts.TTL)
	}
	return a
}

// Check returns ErrAccountInactive when p's employee is not an open account of p's tenant, and
// the checker's error when it cannot tell.
func (a *Accounts) Check(ctx context.Context, p *Principal) error {
	key := accountKey{p.TenantID, p.EmployeeID}
	active, known := false, false
	if a.answers != nil {
		active, known = a.answers.Get(key)
	}
	if !known {
		var err error
		if active, err = a.checker.AccountActive(ctx, p.TenantID, p.EmployeeID); err != nil {
			return fmt.Errorf("check account: %w", err)
		}
		if a.answers != nil {
			a.answers.Add(key, active)
		}
	}
	if !active {
		if a.inactive != nil {
			a.inactive(ctx, p)
		}
		return ErrAccountInactive
	}
	return nil
}
