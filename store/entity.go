package store

// IsEntity marks the types a federation gateway may resolve by key (`@key(fields: "id")`); the
// generated _entities code binds to them through this method set.
func (Employee) IsEntity()   {}
func (Project) IsEntity()    {}
func (Task) IsEntity()       {}
func (TimeEntry) IsEntity()  {}
func (Screenshot) IsEntity() {}
