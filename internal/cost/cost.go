package cost

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Cost rules, as federation's demand control defines them (so a router doing demand control
// prices operations as this server does):
//   - an object, interface or union costs 1, a scalar or enum 0, unless @cost says otherwise
//     (on the field, else on the type);
//   - a mutation's root field costs mutationWeight unless it declares @cost;
//   - a list field multiplies its own weight and its selections by its size: the largest
//     slicing argument given (first), else @listSize's assumedSize, else unsizedList; on a
//     connection, @listSize's sizedFields (edges, nodes) get the size instead of the field;
//   - _entities is as long as its representations;
//   - introspection (__schema, __type, __typename) is free: it is static and bounded by the
//     schema, and production turns it off.
//
// Fragments and inline fragments add up (an upper bound when type conditions exclude each
// other); @skip and @include are ignored the same way.
const (
	mutationWeight = 10
	// unsizedList prices a list whose size nothing declares: the largest page a field returns.
	unsizedList = 100
)

// Price is the static cost of op with its variables.
func Price(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) int {
	c := &costCalc{schema: schema, vars: vars, fragments: map[fragmentKey]int{}}
	total := 0
	for _, f := range c.fields(op.SelectionSet) {
		weight := -1
		if op.Operation == ast.Mutation && f.Definition != nil && f.Definition.Directives.ForName("cost") == nil {
			weight = mutationWeight
		}
		total = satAdd(total, c.field(f, weight, 0))
	}
	return total
}

type costCalc struct {
	schema *ast.Schema
	vars   map[string]any
	// fragments memoises a fragment's cost for each size handed down into it, so nested
	// spreads of the same fragment cost linear time, not exponential.
	fragments map[fragmentKey]int
}

type fragmentKey struct {
	name  string
	sized sizing
}

// sizing is the size a connection hands down to its sizedFields (edges, nodes).
type sizing struct {
	fields string // comma-separated names
	size   int
}

func (s sizing) of(name string) int {
	if s.fields == "" || !slices.Contains(strings.Split(s.fields, ","), name) {
		return 0
	}
	return s.size
}

// fields flattens a selection set's fields through its fragments (for the root's weights).
func (c *costCalc) fields(set ast.SelectionSet) []*ast.Field {
	var out []*ast.Field
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			out = append(out, s)
		case *ast.InlineFragment:
			out = append(out, c.fields(s.SelectionSet)...)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				out = append(out, c.fields(s.Definition.SelectionSet)...)
			}
		}
	}
	return out
}

// selections costs a selection set; sized is what a parent connection hands down.
func (c *costCalc) selections(set ast.SelectionSet, sized sizing) int {
	total := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			total = satAdd(total, c.field(s, -1, sized.of(s.Name)))
		case *ast.InlineFragment:
			total = satAdd(total, c.selections(s.SelectionSet, sized))
		case *ast.FragmentSpread:
			total = satAdd(total, c.fragment(s, sized))
		}
	}
	return total
}

func (c *costCalc) fragment(s *ast.FragmentSpread, sized sizing) int {
	if s.Definition == nil {
		return 0
	}
	key := fragmentKey{name: s.Name, sized: sized}
	if cost, ok := c.fragments[key]; ok {
		return cost
	}
	cost := c.selections(s.Definition.SelectionSet, sized)
	c.fragments[key] = cost
	return cost
}

// field costs one field; weight overrides the default weight when >= 0, size the list size when
// > 0 (handed down by a connection).
func (c *costCalc) field(f *ast.Field, weight, size int) int {
	def := f.Definition
	if def == nil || strings.HasPrefix(f.Name, "__") {
		return 0
	}
	if weight < 0 {
		weight = c.weight(def)
	}
	var sized sizing
	multiplier := 1
	listSize := def.Directives.ForName("listSize")
	switch {
	case size > 0:
		multiplier = size
	case f.Name == "_entities":
		if reps, ok := f.ArgumentMap(c.vars)["representations"].([]any); ok {
			multiplier = len(reps)
		}
	case listSize != nil && len(stringList(listSize, "sizedFields")) > 0:
		sized = sizing{fields: strings.Join(stringList(listSize, "sizedFields"), ","), size: c.listSize(f, listSize)}
	case def.Type.Elem != nil: // a list
		multiplier = c.listSize(f, listSize)
	}
	children := c.selections(f.SelectionSet, sized)
	return satMul(multiplier, satAdd(weight, children))
}

func (c *costCalc) weight(def *ast.FieldDefinition) int {
	if w, ok := costWeight(def.Directives); ok {
		return w
	}
	t := c.schema.Types[def.Type.Name()]
	if t == nil {
		return 0
	}
	if w, ok := costWeight(t.Directives); ok {
		return w
	}
	switch t.Kind {
	case ast.Object, ast.Interface, ast.Union:
		return 1
	default:
		return 0
	}
}

// listSize is a list field's size: its largest slicing argument given, else assumedSize.
func (c *costCalc) listSize(f *ast.Field, listSize *ast.Directive) int {
	if listSize == nil {
		return unsizedList
	}
	args := f.ArgumentMap(c.vars)
	size := -1
	for _, name := range stringList(listSize, "slicingArguments") {
		if n, ok := toInt(args[name]); ok && n > size {
			size = n
		}
	}
	if size >= 0 {
		return size
	}
	if a := listSize.Arguments.ForName("assumedSize"); a != nil {
		if n, ok := toInt(valueOf(a.Value)); ok {
			return n
		}
	}
	return unsizedList
}

func costWeight(dirs ast.DirectiveList) (int, bool) {
	d := dirs.ForName("cost")
	if d == nil {
		return 0, false
	}
	a := d.Arguments.ForName("weight")
	if a == nil {
		return 0, false
	}
	return toInt(valueOf(a.Value))
}

func stringList(d *ast.Directive, arg string) []string {
	a := d.Arguments.ForName(arg)
	if a == nil || a.Value == nil {
		return nil
	}
	var out []string
	for _, child := range a.Value.Children {
		out = append(out, child.Value.Raw)
	}
	return slices.Clip(out)
}

func valueOf(v *ast.Value) any {
	if v == nil {
		return nil
	}
	val, err := v.Value(nil)
	if err != nil {
		return nil
	}
	return val
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return clampInt(n), true
	case int32:
		return clampInt(int64(n)), true
	case float64:
		return clampInt(int64(n)), true
	case json.Number:
		i, err := n.Int64()
		return clampInt(i), err == nil
	}
	return 0, false
}

// clampInt keeps sizes non-negative and far from overflow (a first of 2^62 is simply too
// expensive, not a wrap-around to something cheap).
func clampInt(n int64) int {
	if n < 0 {
		return 0
	}
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(n)
}

// countString shows a count that saturated as "too many".
func countString(n int) string {
	if n == math.MaxInt {
		return "too many"
	}
	return strconv.Itoa(n)
}

// satAdd and satMul saturate at math.MaxInt: a document built to overflow a sum or product
// costs "too much", never wraps around to cheap. Both operands are non-negative.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func satMul(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}
