package resolvers

import (
	"github.com/google/uuid"

	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/store"
)

func employeeLoader(l *loaders.Loaders) *loaders.Loader[uuid.UUID, *store.Employee] {
	return l.Employee()
}
func projectLoader(l *loaders.Loaders) *loaders.Loader[uuid.UUID, *store.Project] {
	return l.Project()
}
func taskLoader(l *loaders.Loaders) *loaders.Loader[uuid.UUID, *store.Task] { return l.Task() }
func departmentLoader(l *loaders.Loaders) *loaders.Loader[uuid.UUID, *store.Department] {
	return l.Department()
}
func timeEntryLoader(l *loaders.Loaders) *loaders.Loader[uuid.UUID, *store.TimeEntry] {
	return l.TimeEntry()
}
