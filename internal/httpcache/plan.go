package httpcache

import (
	"github.com/vektah/gqlparser/v2/ast"
)

// Class is how long what an operation reads stays valid; a wider class absorbs a narrower one.
type Class int

const (
	// Constant: nothing that changes (__typename only); valid as long as views would be.
	Constant Class = iota
	// Views: report views only, which change when they are refreshed.
	Views
	// ViewsAndProjects: views and the tenant's live project rows (projectHoursReport), validated
	// by a digest of the projects and revalidated on every use.
	ViewsAndProjects
	// Live: reads live data; never cached.
	Live
)

// Plan is what Classify found in an operation.
type Plan struct {
	Class Class
	// Weak: the answer carries ReportFreshness.staleSeconds, which grows with time.
	Weak bool
	// Roles are the role rules (@hasRole lists) of the fields read: the principal must hold one
	// of each list's roles, or the operation would be refused, so no 304 may answer it.
	Roles [][]string
	// KnownRole: a field read is @anyRole.
	KnownRole bool
}

// fields are the fields whose values come from the report views (or never change), by
// "Type.field", with the class they read. A field not listed reads live data. New fields are
// live until added here (TestAllowListMatchesSchema checks that every entry exists).
var fields = map[string]Class{
	"Query.productivityReport": Views,
	"Query.projectHoursReport": ViewsAndProjects,

	"ProductivityReportConnection.edges":     Views,
	"ProductivityReportConnection.nodes":     Views,
	"ProductivityReportConnection.pageInfo":  Views,
	"ProductivityReportConnection.freshness": Views,
	"ProductivityRowEdge.cursor":             Views,
	"ProductivityRowEdge.node":               Views,
	"ProductivityRow.employeeId":             Views,
	"ProductivityRow.periodStart":            Views,
	"ProductivityRow.periodEnd":              Views,
	"ProductivityRow.totalSeconds":           Views,
	"ProductivityRow.billableSeconds":        Views,
	"ProductivityRow.totalHours":             Views,
	"ProductivityRow.billableHours":          Views,
	"ProductivityRow.entryCount":             Views,
	"ProductivityRow.distinctProjects":       Views,

	"ProjectHoursReportConnection.edges":     ViewsAndProjects,
	"ProjectHoursReportConnection.nodes":     ViewsAndProjects,
	"ProjectHoursReportConnection.pageInfo":  ViewsAndProjects,
	"ProjectHoursReportConnection.freshness": ViewsAndProjects,
	"ProjectHoursRowEdge.cursor":             ViewsAndProjects,
	"ProjectHoursRowEdge.node":               ViewsAndProjects,
	"ProjectHoursRow.project":                ViewsAndProjects,
	"ProjectHoursRow.teamSize":               ViewsAndProjects,
	"ProjectHoursRow.totalSeconds":           ViewsAndProjects,
	"ProjectHoursRow.billableSeconds":        ViewsAndProjects,
	"ProjectHoursRow.totalHours":             ViewsAndProjects,
	"ProjectHoursRow.billableHours":          ViewsAndProjects,
	"ProjectHoursRow.entryCount":             ViewsAndProjects,
	"ProjectHoursRow.lastActivity":           ViewsAndProjects,
	"ProjectHoursRow.budgetUtilisation":      ViewsAndProjects,
	// The columns store.ProjectsVersion digests (description and createdAt change only with
	// updatedAt), and the hours from the views unless live.
	"Project.id":          ViewsAndProjects,
	"Project.name":        ViewsAndProjects,
	"Project.description": ViewsAndProjects,
	"Project.status":      ViewsAndProjects,
	"Project.budgetHours": ViewsAndProjects,
	"Project.billable":    ViewsAndProjects,
	"Project.createdAt":   ViewsAndProjects,
	"Project.updatedAt":   ViewsAndProjects,
	"Project.totalHours":  Views,

	"PageInfo.hasNextPage":          Constant,
	"PageInfo.hasPreviousPage":      Constant,
	"PageInfo.startCursor":          Constant,
	"PageInfo.endCursor":            Constant,
	"ReportFreshness.refreshedAt":   Views,
	"ReportFreshness.nextRefreshAt": Views,
	"ReportFreshness.staleSeconds":  Views,
}

// directives a field definition may carry without making it live: the role rules (checked
// before a 304) and what only prices or binds it.
var inertDirectives = map[string]bool{"hasRole": true, "anyRole": true, "cost": true, "listSize": true, "goField": true}

// Classify finds what op reads, given its variables (coerced): the widest class of its fields.
// It needs a validated operation (fields know their definitions).
func Classify(op *ast.OperationDefinition, vars map[string]any) Plan {
	p := Plan{}
	if op == nil || op.Operation != ast.Query {
		return Plan{Class: Live}
	}
	p.walk(op.SelectionSet, vars, 0)
	return p
}

// maxDepth bounds the walk (the document limits bound depth long before).
const maxDepth = 64

func (p *Plan) walk(set ast.SelectionSet, vars map[string]any, depth int) {
	if depth > maxDepth {
		p.Class = Live
		return
	}
	for _, sel := range set {
		if p.Class == Live {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			p.field(s, vars, depth)
		case *ast.InlineFragment:
			p.walk(s.SelectionSet, vars, depth+1)
		case *ast.FragmentSpread:
			if s.Definition == nil {
				p.Class = Live
				return
			}
			p.walk(s.Definition.SelectionSet, vars, depth+1)
		default:
			p.Class = Live
		}
	}
}

func (p *Plan) field(f *ast.Field, vars map[string]any, depth int) {
	if f.Name == "__typename" {
		return
	}
	if f.Definition == nil || f.ObjectDefinition == nil {
		p.Class = Live
		return
	}
	class, ok := fields[f.ObjectDefinition.Name+"."+f.Name]
	if !ok {
		p.Class = Live
		return
	}
	args := f.ArgumentMap(vars)
	switch f.ObjectDefinition.Name + "." + f.Name {
	case "Query.productivityReport":
		// Employees "in the department now": a live read of the employees.
		if filter, _ := args["filter"].(map[string]any); filter["departmentId"] != nil {
			p.Class = Live
			return
		}
	case "Project.totalHours":
		// From the views unless live (null counts as live here: the conservative reading).
		if live, ok := args["live"].(bool); !ok || live {
			p.Class = Live
			return
		}
	case "ReportFreshness.staleSeconds":
		p.Weak = true
	}
	for _, d := range f.Definition.Directives {
		switch {
		case d.Name == "hasRole":
			var roles []string
			list, _ := d.ArgumentMap(vars)["any"].([]any)
			for _, r := range list {
				if s, ok := r.(string); ok {
					roles = append(roles, s)
				}
			}
			p.Roles = append(p.Roles, roles)
		case d.Name == "anyRole":
			p.KnownRole = true
		case !inertDirectives[d.Name]:
			p.Class = Live
			return
		}
	}
	p.Class = max(p.Class, class)
	p.walk(f.SelectionSet, vars, depth+1)
}

// AllowedFields lists the allow-list's fields ("Type.field"), for the test that checks them
// against the schema.
func AllowedFields() []string {
	out := make([]string, 0, len(fields))
	for f := range fields {
		out = append(out, f)
	}
	return out
}
