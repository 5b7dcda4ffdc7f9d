package resolvers

import "github.com/workingtracker/api/graph"

// root is the graph.ResolverRoot New returns: each object's resolver built once. gqlgen's
// generated constructors (`func (r *Resolver) Employee() … { return &employeeResolver{r} }`)
// allocate one on every call, and the generated code calls them for every resolver field of
// every object: six times per employee of a page that selects its department, manager and
// personal data. TestRootBuildsEachResolverOnce fails for a type added to the schema but not
// here (its resolver would still work, built on every call).
type root struct {
	*Resolver
	apiKey                       graph.ApiKeyResolver
	auditLog                     graph.AuditLogResolver
	employee                     graph.EmployeeResolver
	employeeConnection           graph.EmployeeConnectionResolver
	entity                       graph.EntityResolver
	mutation                     graph.MutationResolver
	persistedOperation           graph.PersistedOperationResolver
	productivityReportConnection graph.ProductivityReportConnectionResolver
	productivityRow              graph.ProductivityRowResolver
	project                      graph.ProjectResolver
	projectConnection            graph.ProjectConnectionResolver
	projectHoursReportConnection graph.ProjectHoursReportConnectionResolver
	query                        graph.QueryResolver
	screenshot                   graph.ScreenshotResolver
	screenshotConnection         graph.ScreenshotConnectionResolver
	subscription                 graph.SubscriptionResolver
	task                         graph.TaskResolver
	timeEntry                    graph.TimeEntryResolver
	timeEntryConnection          graph.TimeEntryConnectionResolver
}

func newRoot(r *Resolver) *root {
	return &root{Resolver: r,
		apiKey:                       r.ApiKey(),
		auditLog:                     r.AuditLog(),
		employee:                     r.Employee(),
		employeeConnection:           r.EmployeeConnection(),
		entity:                       r.Entity(),
		mutation:                     r.Mutation(),
		persistedOperation:           r.PersistedOperation(),
		productivityReportConnection: r.ProductivityReportConnection(),
		productivityRow:              r.ProductivityRow(),
		project:                      r.Project(),
		projectConnection:            r.ProjectConnection(),
		projectHoursReportConnection: r.ProjectHoursReportConnection(),
		query:                        r.Query(),
		screenshot:                   r.Screenshot(),
		screenshotConnection:         r.ScreenshotConnection(),
		subscription:                 r.Subscription(),
		task:                         r.Task(),
		timeEntry:                    r.TimeEntry(),
		timeEntryConnection:          r.TimeEntryConnection(),
	}
}

func (r *root) ApiKey() graph.ApiKeyResolver                         { return r.apiKey }
func (r *root) AuditLog() graph.AuditLogResolver                     { return r.auditLog }
func (r *root) Employee() graph.EmployeeResolver                     { return r.employee }
func (r *root) EmployeeConnection() graph.EmployeeConnectionResolver { return r.employeeConnection }
func (r *root) Entity() graph.EntityResolver                         { return r.entity }
func (r *root) Mutation() graph.MutationResolver                     { return r.mutation }
func (r *root) PersistedOperation() graph.PersistedOperationResolver { return r.persistedOperation }
func (r *root) ProductivityReportConnection() graph.ProductivityReportConnectionResolver {
	return r.productivityReportConnection
}
func (r *root) ProductivityRow() graph.ProductivityRowResolver     { return r.productivityRow }
func (r *root) Project() graph.ProjectResolver                     { return r.project }
func (r *root) ProjectConnection() graph.ProjectConnectionResolver { return r.projectConnection }
func (r *root) ProjectHoursReportConnection() graph.ProjectHoursReportConnectionResolver {
	return r.projectHoursReportConnection
}
func (r *root) Query() graph.QueryResolver           { return r.query }
func (r *root) Screenshot() graph.ScreenshotResolver { return r.screenshot }
func (r *root) ScreenshotConnection() graph.ScreenshotConnectionResolver {
	return r.screenshotConnection
}
func (r *root) Subscription() graph.SubscriptionResolver               { return r.subscription }
func (r *root) Task() graph.TaskResolver                               { return r.task }
func (r *root) TimeEntry() graph.TimeEntryResolver                     { return r.timeEntry }
func (r *root) TimeEntryConnection() graph.TimeEntryConnectionResolver { return r.timeEntryConnection }
