package graph

import (
	"context"
	"fmt"
	"reflect"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"

	"github.com/workingtracker/api/internal/apperr"
)

// constraint enforces @constraint(maxLength, maxItems) on an argument or input field as gqlgen
// decodes it, before any resolver runs: the document limits bound a query's shape, not what its
// variables carry, and a 100,000-id list or a 100 KB search string must not reach the store.
// The checks cost a length each: len of a list (reflect only reads a slice's header), and a
// string's characters counted only when its bytes could exceed the bound.
func constraint(ctx context.Context, _ any, next graphql.Resolver, maxLength, maxItems *int) (any, error) {
	v, err := next(ctx)
	if err != nil || v == nil {
		return v, err
	}
	switch x := v.(type) {
	case string:
		return v, checkLength(ctx, x, maxLength)
	case *string:
		if x == nil {
			return v, nil
		}
		return v, checkLength(ctx, *x, maxLength)
	}
	if maxItems != nil {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice {
			if rv.Len() > *maxItems {
				return nil, apperr.Invalid(inputField(ctx), "%s may hold at most %d items", inputField(ctx), *maxItems)
			}
			return v, nil
		}
	}
	// A bound on a type this function does not measure would be a bound that never holds.
	return nil, fmt.Errorf("@constraint on %s: cannot measure %T", inputField(ctx), v)
}

func checkLength(ctx context.Context, s string, maxLength *int) error {
	if maxLength == nil {
		return fmt.Errorf("@constraint on string %s without maxLength", inputField(ctx))
	}
	// A character is at least one byte: most strings are decided by their length in bytes.
	if len(s) > *maxLength && utf8.RuneCountInString(s) > *maxLength {
		return apperr.Invalid(inputField(ctx), "%s must be at most %d characters", inputField(ctx), *maxLength)
	}
	return nil
}

// inputField names the argument or input field being decoded (gqlgen sets it as the path's
// last field), for extensions.field.
func inputField(ctx context.Context) string {
	if pc := graphql.GetPathContext(ctx); pc != nil && pc.Field != nil {
		return *pc.Field
	}
	return "input"
}
