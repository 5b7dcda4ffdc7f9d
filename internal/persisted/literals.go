package persisted

import "github.com/vektah/gqlparser/v2/ast"

// holdsStringLiterals reports whether doc writes a string anywhere a value goes: an argument,
// an input object's field, a list item, a variable's default. Such a document is run but not
// stored by APQ, because the text itself may carry personal data —
// employeeByIdentifier(field: SSN, value: "123-45-6789") — which would then sit in Redis for the
// cache's TTL, and whose hash another principal of the tenant could probe. Clients that send
// values as variables (every Apollo client does) are cached as before.
func holdsStringLiterals(doc *ast.QueryDocument) bool {
	if doc == nil {
		return false
	}
	for _, op := range doc.Operations {
		for _, v := range op.VariableDefinitions {
			if stringIn(v.DefaultValue) || directivesHold(v.Directives) {
				return true
			}
		}
		if directivesHold(op.Directives) || selectionsHold(op.SelectionSet) {
			return true
		}
	}
	for _, f := range doc.Fragments {
		if directivesHold(f.Directives) || selectionsHold(f.SelectionSet) {
			return true
		}
	}
	return false
}

func selectionsHold(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				if stringIn(a.Value) {
					return true
				}
			}
			if directivesHold(s.Directives) || selectionsHold(s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if directivesHold(s.Directives) || selectionsHold(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if directivesHold(s.Directives) {
				return true
			}
		}
	}
	return false
}

func directivesHold(ds ast.DirectiveList) bool {
	for _, d := range ds {
		for _, a := range d.Arguments {
			if stringIn(a.Value) {
				return true
			}
		}
	}
	return false
}

func stringIn(v *ast.Value) bool {
	if v == nil {
		return false
	}
	switch v.Kind {
	case ast.StringValue, ast.BlockValue:
		return true
	case ast.ListValue, ast.ObjectValue:
		for _, c := range v.Children {
			if stringIn(c.Value) {
				return true
			}
		}
	}
	return false
}
