package model

import (
	"context"

	"github.com/workingtracker/api/store"
)

// Connections are written by hand rather than generated so they can carry CountFunc: totalCount
// costs a COUNT(*) and runs only when a client selects it.

// CountFunc counts the rows of a connection across all pages.
type CountFunc func(ctx context.Context) (int, error)

// EmployeeConnection is a page of employees.
type EmployeeConnection struct {
	Edges     []*EmployeeEdge
	Nodes     []*store.Employee
	PageInfo  *PageInfo
	CountFunc CountFunc
}

// ProjectConnection is a page of projects.
type ProjectConnection struct {
	Edges     []*ProjectEdge
	Nodes     []*store.Project
	PageInfo  *PageInfo
	CountFunc CountFunc
}

// TimeEntryConnection is a page of time entries.
type TimeEntryConnection struct {
	Edges     []*TimeEntryEdge
	Nodes     []*store.TimeEntry
	PageInfo  *PageInfo
	CountFunc CountFunc
}

// ScreenshotConnection is a page of screenshots.
type ScreenshotConnection struct {
	Edges     []*ScreenshotEdge
	Nodes     []*store.Screenshot
	PageInfo  *PageInfo
	CountFunc CountFunc
}
