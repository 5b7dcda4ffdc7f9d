package cost

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/workingtracker/api/internal/apperr"
)

// DocumentLimits bound the shape of a GraphQL document. They are checked on the parsed document
// before validation, whose work grows with exactly these (field merging compares fields
// pairwise), so a document built to be expensive is refused for the price of parsing it — and
// parsing is itself bounded by MaxTokens.
type DocumentLimits struct {
	MaxTokens int // lexical tokens
	// MaxDepth bounds the nesting of selections, through fragments, outside introspection;
	// MaxIntrospectionDepth that under __schema and __type, whose type references nest deeper
	// than any application query (GraphiQL's introspection query is 15 levels deep).
	MaxDepth, MaxIntrospectionDepth int
	MaxAliases                      int // aliased fields, through fragments
	MaxRootFields                   int // fields of an operation's root, through fragments
	MaxDirectivesPerField           int // directives on one field, fragment spread or inline fragment
	// MaxFields bounds the fields of an operation, counted through fragments: validation
	// compares same-named fields pairwise, so 4,900 `id`s took a second to validate.
	MaxFields int
}

// DefaultDocumentLimits hold the largest queries real clients send here with room to spare:
// the biggest is gqlgen's introspection query (15 levels deep, 226 fields through its fragments;
// TestIntrospectionFitsTheDocumentLimits). Application queries here nest 8 levels at most (an
// employees page's entries' projects' members, _entities' nested relations:
// TestDeepestApplicationQueriesFit), so 12 leaves room and refuses recursion through
// manager/members/projects long before it is costly.
func DefaultDocumentLimits() DocumentLimits {
	return DocumentLimits{
		MaxTokens:             5000,
		MaxDepth:              12,
		MaxIntrospectionDepth: 20,
		MaxAliases:            50,
		MaxRootFields:         20,
		MaxDirectivesPerField: 5,
		MaxFields:             1000,
	}
}

// NewDocumentLimits is the gqlgen extension that applies limits before validation. validated is
// the server's query cache; onRefuse, when set, is told which limit refused a document.
func NewDocumentLimits(limits DocumentLimits, validated graphql.Cache[*ast.QueryDocument], onRefuse func(limit string)) graphql.HandlerExtension {
	return documentLimits{limits: limits.WithDefaults(), validated: validated, onRefuse: onRefuse}
}

// WithDefaults fills the limits left at zero from DefaultDocumentLimits.
func (l DocumentLimits) WithDefaults() DocumentLimits {
	def := DefaultDocumentLimits()
	for _, f := range []struct{ v, def *int }{{&l.MaxTokens, &def.MaxTokens}, {&l.MaxDepth, &def.MaxDepth},
		{&l.MaxIntrospectionDepth, &def.MaxIntrospectionDepth}, {&l.MaxAliases, &def.MaxAliases},
		{&l.MaxRootFields, &def.MaxRootFields}, {&l.MaxDirectivesPerField, &def.MaxDirectivesPerField},
		{&l.MaxFields, &def.MaxFields}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// documentLimits is the gqlgen extension that applies DocumentLimits before validation.
type documentLimits struct {
	limits DocumentLimits
	// validated is the server's query cache: a document found there was checked (and passed)
	// when it was first seen, so only new documents are parsed twice.
	validated graphql.Cache[*ast.QueryDocument]
	onRefuse  func(limit string)
}

var (
	_ graphql.HandlerExtension          = documentLimits{}
	_ graphql.OperationParameterMutator = documentLimits{}
)

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }
func (l documentLimits) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if params.Query == "" {
		return nil
	}
	if _, ok := l.validated.Get(ctx, params.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, l.limits.MaxTokens)
	if err != nil {
		if strings.Contains(err.Error(), "exceeded token limit") {
			return l.refuse("tokens", l.limits.MaxTokens, fmt.Sprintf("the document has more than %d tokens", l.limits.MaxTokens))
		}
		return nil // gqlgen parses it again and reports the syntax error in its own words
	}
	return l.check(doc)
}

func (l documentLimits) check(doc *ast.QueryDocument) *gqlerror.Error {
	var directives []ast.DirectiveList
	for _, def := range doc.Operations {
		directives = selectionsWithDirectives(def.SelectionSet, append(directives, def.Directives))
	}
	for _, def := range doc.Fragments {
		directives = selectionsWithDirectives(def.SelectionSet, append(directives, def.Directives))
	}
	for _, d := range directives {
		if len(d) > l.limits.MaxDirectivesPerField {
			return l.refuse("directives", l.limits.MaxDirectivesPerField, fmt.Sprintf("a field has %d directives", len(d)))
		}
	}
	s := &shapeWalker{doc: doc, memo: map[string]shape{}, onPath: map[string]bool{}}
	for _, op := range doc.Operations {
		root, err := s.selections(op.SelectionSet)
		if err != nil {
			return &gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": string(apperr.ValidationFailed)}}
		}
		switch {
		case root.depth > l.limits.MaxDepth:
			return l.refuse("depth", l.limits.MaxDepth, fmt.Sprintf("operation %s is nested %s levels deep", opName(op), countString(root.depth)))
		case root.introspectionDepth > l.limits.MaxIntrospectionDepth:
			return l.refuse("depth", l.limits.MaxIntrospectionDepth, fmt.Sprintf("operation %s introspects %s levels deep",
				opName(op), countString(root.introspectionDepth)))
		case root.aliases > l.limits.MaxAliases:
			return l.refuse("aliases", l.limits.MaxAliases, fmt.Sprintf("operation %s has %s aliases", opName(op), countString(root.aliases)))
		case root.fields > l.limits.MaxFields:
			return l.refuse("fields", l.limits.MaxFields, fmt.Sprintf("operation %s has %s fields", opName(op), countString(root.fields)))
		case root.rootFields > l.limits.MaxRootFields:
			return l.refuse("rootFields", l.limits.MaxRootFields, fmt.Sprintf("operation %s has %s root fields", opName(op), countString(root.rootFields)))
		}
	}
	return nil
}

func (l documentLimits) refuse(limit string, maximum int, what string) *gqlerror.Error {
	if l.onRefuse != nil {
		l.onRefuse(limit)
	}
	return &gqlerror.Error{
		Message:    fmt.Sprintf("the document is too complex: %s; the limit is %d", what, maximum),
		Extensions: map[string]any{"code": string(apperr.ComplexityLimit), "limit": limit, "maximum": maximum},
	}
}

func opName(op *ast.OperationDefinition) string {
	if op.Name == "" {
		return "(anonymous)"
	}
	return op.Name
}

// selectionsWithDirectives lists the directive lists of every selection, fragments not followed
// (each fragment definition is checked once on its own).
func selectionsWithDirectives(set ast.SelectionSet, out []ast.DirectiveList) []ast.DirectiveList {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			out = append(out, s.Directives)
			out = selectionsWithDirectives(s.SelectionSet, out)
		case *ast.InlineFragment:
			out = append(out, s.Directives)
			out = selectionsWithDirectives(s.SelectionSet, out)
		case *ast.FragmentSpread:
			out = append(out, s.Directives)
		}
	}
	return out
}

// shape is what the limits measure of a selection set, with fragments expanded.
type shape struct {
	depth, aliases, rootFields, fields int
	// introspectionDepth is the depth of __schema and __type selections, kept out of depth.
	introspectionDepth int
}

// shapeWalker measures selection sets through fragments. Each fragment is measured once
// (memo), so fragments spreading fragments many times over cost linear time; a fragment that
// spreads itself is an error (validation would refuse it too, but this walk runs first and must
// end).
type shapeWalker struct {
	doc    *ast.QueryDocument
	memo   map[string]shape
	onPath map[string]bool
}

func (w *shapeWalker) selections(set ast.SelectionSet) (shape, error) {
	var out shape
	for _, sel := range set {
		var child shape
		var err error
		switch s := sel.(type) {
		case *ast.Field:
			child, err = w.selections(s.SelectionSet)
			child.depth = satAdd(child.depth, 1)
			if s.Name == "__schema" || s.Name == "__type" {
				child.introspectionDepth, child.depth = max(child.depth, child.introspectionDepth), 0
			}
			if s.Alias != "" && s.Alias != s.Name {
				child.aliases = satAdd(child.aliases, 1)
			}
			child.rootFields = 1 // a field counts once among its siblings, whatever it holds
			child.fields = satAdd(child.fields, 1)
		case *ast.InlineFragment:
			child, err = w.selections(s.SelectionSet)
		case *ast.FragmentSpread:
			child, err = w.fragment(s.Name)
		}
		if err != nil {
			return shape{}, err
		}
		out.depth = max(out.depth, child.depth)
		out.introspectionDepth = max(out.introspectionDepth, child.introspectionDepth)
		out.aliases = satAdd(out.aliases, child.aliases)
		out.rootFields = satAdd(out.rootFields, child.rootFields)
		out.fields = satAdd(out.fields, child.fields)
	}
	return out, nil
}

func (w *shapeWalker) fragment(name string) (shape, error) {
	if s, ok := w.memo[name]; ok {
		return s, nil
	}
	def := w.doc.Fragments.ForName(name)
	if def == nil {
		return shape{}, nil // unknown fragment: validation reports it
	}
	if w.onPath[name] {
		return shape{}, fmt.Errorf("cannot spread fragment %q within itself", name)
	}
	w.onPath[name] = true
	s, err := w.selections(def.SelectionSet)
	delete(w.onPath, name)
	if err == nil {
		w.memo[name] = s
	}
	return s, err
}
