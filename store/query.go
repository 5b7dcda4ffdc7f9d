package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/workingtracker/api/internal/apperr"
)

// MaxPageSize bounds every page a client may ask for.
const MaxPageSize = 100

// PageParams asks for one page of a keyset-paginated list.
type PageParams struct {
	// First is the page size, 1..MaxPageSize.
	First int
	// After is the opaque cursor of the last row already seen, or "".
	After string
}

// Page is one page of rows and whether more follow.
type Page[T any] struct {
	Rows        []T
	HasNextPage bool
}

func (p PageParams) validate() error {
	if p.First < 0 || p.First > MaxPageSize {
		return apperr.Invalid("first", "first must be between 0 and %d", MaxPageSize)
	}
	return nil
}

// Cursors are opaque to clients: base64url of a small JSON keyset. Clients must not build them,
// and a malformed one is their error, not ours.
func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return apperr.Invalid("after", "after is not a cursor returned by this API")
	}
	return nil
}

// where builds a parameterised WHERE clause. Each combination of filters yields its own SQL text,
// which pgx prepares once per connection: a generic plan per shape, rather than one catch-all
// statement full of "$n IS NULL OR" whose generic plan cannot use the right index.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) arg(a any) string {
	w.args = append(w.args, a)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) String() string { return strings.Join(w.conds, " AND ") }

// collect runs a read through pgx and scans every row with scan.
func collect[T any](ctx context.Context, q querier, what, sql string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// trimPage cuts the extra row fetched to learn whether another page follows.
func trimPage[T any](rows []T, first int) Page[T] {
	if len(rows) > first {
		return Page[T]{Rows: rows[:first], HasNextPage: true}
	}
	return Page[T]{Rows: rows}
}

// keysetList describes a keyset-paginated read: rows of `from` matching a where clause, in
// `order`, resumed after the row a cursor of type C names.
type keysetList[T, C any] struct {
	what    string
	from    string // table and alias, e.g. "employees e"
	columns string
	order   string
	// after is the condition selecting rows past cursor c, with ? placeholders.
	after func(c C) (cond string, args []any)
	scan  func(pgx.Row) (T, error)
}

// page runs the list for one page: first+1 rows tell whether another page follows.
func (l keysetList[T, C]) page(ctx context.Context, q querier, w *where, page PageParams) (Page[T], error) {
	if err := page.validate(); err != nil {
		return Page[T]{}, err
	}
	if page.After != "" {
		var c C
		if err := decodeCursor(page.After, &c); err != nil {
			return Page[T]{}, err
		}
		cond, args := l.after(c)
		w.add(cond, args...)
	}
	limit := w.arg(page.First + 1)
	rows, err := collect(ctx, q, l.what, `SELECT `+l.columns+` FROM `+l.from+` WHERE `+w.String()+
		` ORDER BY `+l.order+` LIMIT `+limit, w.args, l.scan)
	return trimPage(rows, page.First), err
}

// count counts the rows matching w across all pages.
func (l keysetList[T, C]) count(ctx context.Context, q pgxQuerier, w *where) (int, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM `+l.from+` WHERE `+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", l.what, err)
	}
	return n, nil
}

type pgxQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
