package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
)

// Tiers say how large a budget each kind of caller gets.
type Tiers struct {
	// ByRole is the budget of a principal holding the role; a principal with several roles gets
	// the largest of theirs.
	ByRole map[string]Limit
	// Default is the budget of a principal whose roles have none.
	Default Limit
	// Unauthenticated is the budget of one client IP for requests that fail to authenticate
	// (each costs 1): it slows down guessing tokens and API keys.
	Unauthenticated Limit
	// MaxQueryCost is the most a single operation may cost.
	MaxQueryCost int
}

// DefaultTiers: one operation may cost up to 10,000 points (a page of 100 projects with their
// tasks costs 5,100; 50 employees with department, projects and latest 20 entries with their
// project 2,650). People get 20,000 points restored at 250 a second; BI tools, which pull
// reports in bulk, five to eight times that; desktop agents, which send a heartbeat and a few
// entries, a tenth. Failed authentications: 30 per client IP, one more each second.
func DefaultTiers() Tiers {
	user := PerSecond(20_000, 250)
	return Tiers{
		ByRole: map[string]Limit{
			"ADMIN": user, "HR": user, "MANAGER": user, "EMPLOYEE": user, "AUDITOR": user,
			"BI":    PerSecond(100_000, 2_000),
			"AGENT": PerSecond(2_000, 25),
		},
		Default:         user,
		Unauthenticated: PerSecond(30, 1),
		MaxQueryCost:    10_000,
	}
}

// ForRoles is the largest budget among roles' tiers.
func (t Tiers) ForRoles(roles []string) Limit {
	best, found := Limit{}, false
	for _, r := range roles {
		if l, ok := t.ByRole[r]; ok && (!found || l.RestorePerSecond() > best.RestorePerSecond() ||
			(l.RestorePerSecond() == best.RestorePerSecond() && l.Burst > best.Burst)) {
			best, found = l, true
		}
	}
	if !found {
		return t.Default
	}
	return best
}

// ParseTiers overrides tiers from a spec such as "BI=100000/2000,EMPLOYEE=5000/100": each item
// is NAME=maximum/restored-per-second, where NAME is a role of t.ByRole, DEFAULT or
// UNAUTHENTICATED.
func (t Tiers) ParseTiers(spec string) (Tiers, error) {
	out := t
	out.ByRole = make(map[string]Limit, len(t.ByRole))
	for k, v := range t.ByRole {
		out.ByRole[k] = v
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		maximum, rate, ok2 := strings.Cut(value, "/")
		burst, err1 := strconv.Atoi(strings.TrimSpace(maximum))
		restore, err2 := strconv.Atoi(strings.TrimSpace(rate))
		if !ok || !ok2 || err1 != nil || err2 != nil || burst <= 0 || restore <= 0 {
			return Tiers{}, fmt.Errorf("%q: want NAME=maximum/restored-per-second with positive integers", item)
		}
		limit := PerSecond(burst, restore)
		switch name = strings.ToUpper(strings.TrimSpace(name)); name {
		case "DEFAULT":
			out.Default = limit
		case "UNAUTHENTICATED":
			out.Unauthenticated = limit
		default:
			if _, known := t.ByRole[name]; !known {
				return Tiers{}, fmt.Errorf("%q: unknown role %s", item, name)
			}
			out.ByRole[name] = limit
		}
	}
	return out, nil
}
