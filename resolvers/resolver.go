// Package resolvers holds thin GraphQL resolvers: each converts its arguments, makes one loader
// or store call and returns. Batching lives in loaders, SQL and transactions in store, tenancy in
// the request scope every call carries.
package resolvers

import (
	"context"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/store"
)

// Store is what the resolvers need of the store.
type Store interface {
	ScreenshotReader
	ReportReader
	PIIStore
	AuditReader

	ListEmployees(ctx context.Context, scope store.Scope, params store.ListEmployeesParams, page store.PageParams) (store.Page[*store.Employee], error)
	CountEmployees(ctx context.Context, scope store.Scope, params store.ListEmployeesParams) (int, error)
	CreateEmployee(ctx context.Context, scope store.Scope, p store.EmployeeParams) (*store.Employee, error)
	UpdateEmployee(ctx context.Context, scope store.Scope, id uuid.UUID, p store.EmployeeParams) (*store.Employee, error)

	ListProjects(ctx context.Context, scope store.Scope, params store.ListProjectsParams, page store.PageParams) (store.Page[*store.Project], error)
	CountProjects(ctx context.Context, scope store.Scope, params store.ListProjectsParams) (int, error)
	CreateProject(ctx context.Context, scope store.Scope, p store.ProjectParams) (*store.Project, error)
	UpdateProject(ctx context.Context, scope store.Scope, id uuid.UUID, p store.ProjectParams) (*store.Project, error)
	AddProjectMember(ctx context.Context, scope store.Scope, projectID, employeeID uuid.UUID) (*store.Project, error)
	RemoveProjectMember(ctx context.Context, scope store.Scope, projectID, employeeID uuid.UUID) (*store.Project, error)

	CreateTask(ctx context.Context, scope store.Scope, p store.TaskParams) (*store.Task, error)
	UpdateTask(ctx context.Context, scope store.Scope, id uuid.UUID, p store.TaskParams) (*store.Task, error)

	CountTimeEntries(ctx context.Context, scope store.Scope, params store.ListTimeEntriesParams) (int, error)
	CreateTimeEntry(ctx context.Context, scope store.Scope, p store.TimeEntryParams) (*store.TimeEntry, error)
	UpdateTimeEntry(ctx context.Context, scope store.Scope, id uuid.UUID, p store.TimeEntryParams) (*store.TimeEntry, error)
	DeleteTimeEntry(ctx context.Context, scope store.Scope, id uuid.UUID) (*store.TimeEntry, error)
	StartTimer(ctx context.Context, scope store.Scope, p store.TimeEntryParams) (*store.TimeEntry, error)
	StopTimer(ctx context.Context, scope store.Scope, employeeID uuid.UUID) (*store.TimeEntry, error)

	CreateAPIKey(ctx context.Context, scope store.Scope, p store.APIKeyParams) (*store.APIKey, string, error)
	APIKeys(ctx context.Context, scope store.Scope) ([]*store.APIKey, error)
	RevokeAPIKey(ctx context.Context, scope store.Scope, id uuid.UUID) (*store.APIKey, error)

	CountScreenshots(ctx context.Context, scope store.Scope, params store.ListScreenshotsParams) (int, error)
	ScreenshotSettings(ctx context.Context, scope store.Scope) (*store.ScreenshotSettings, error)
	SetScreenshotBlur(ctx context.Context, scope store.Scope, enabled bool) (*store.ScreenshotSettings, error)
}

// Deps are what the resolvers need besides the store; a nil field turns its feature off (the
// field's resolvers then fail with an internal error or return null, as each documents).
type Deps struct {
	// BlobURLs signs the URLs of processed screenshots (Screenshot.url, thumbnailUrl); nil
	// leaves them null.
	BlobURLs BlobURLs
	// Events carries screenshot status changes to the subscriptions (events.Bus); nil: the
	// subscriptions fail with an internal error.
	Events ScreenshotEvents
	// Scopes re-reads a long-running subscription's reach (policy.Scopes; nil: the reach a
	// subscription started with holds until it ends).
	Scopes Scopes
	// ReachRefresh is how old a subscription's reach may be before an event re-reads it
	// (default DefaultReachRefresh).
	ReachRefresh time.Duration
	// Uploads stores uploaded screenshots (uploadScreenshot; nil: it fails with an internal
	// error).
	Uploads ScreenshotUploads
	// PII encrypts, decrypts and blind-indexes employees' personal data (pii.Keyring; nil: the
	// PII fields and mutations fail with an internal error).
	PII PIICipher
	// Operations registers and lists persisted operations (internal/persisted.Registrar; nil:
	// registerOperations and persistedOperations fail with an internal error).
	Operations PersistedOperations
}

// PIICipher is the tenant-keyed encryption of personal data (internal/pii.Keyring).
type PIICipher interface {
	Encrypt(ctx context.Context, tenant, row uuid.UUID, field, plaintext string) ([]byte, error)
	Decrypt(ctx context.Context, tenant, row uuid.UUID, field string, ciphertext []byte) (string, error)
	BlindIndex(ctx context.Context, tenant uuid.UUID, field, normalised string) ([]byte, error)
	// CachedLastFours are the last-four masks of a row's fields cached at the row's version, and
	// LastFours decrypts the row's ciphertexts read at a version to make (and cache) them
	// (pii.Keyring's: shared, never written through).
	CachedLastFours(tenant, row uuid.UUID, version uint32) *[4]*string
	LastFours(ctx context.Context, tenant, row uuid.UUID, version uint32, ciphertexts map[string][]byte) (*[4]*string, [4]error)
}

// BlobURLs signs short-lived URLs of stored blobs.
type BlobURLs interface {
	// SignURL returns a URL through which a client may GET the blob at key for a few minutes.
	SignURL(ctx context.Context, key string) (string, error)
}

// ScreenshotUploads stores uploaded screenshots (internal/screenshots implements it).
type ScreenshotUploads interface {
	// UploadScreenshot stores file as the scope's own employee's screenshot, PENDING, with its
	// processing job. BAD_USER_INPUT: file (not an image, over the limits), capturedAt (in the
	// future, too old), timeEntryId (the capture is outside the entry); NOT_FOUND: a time entry
	// not the employee's; FORBIDDEN: a principal acting for no employee, or a terminated one.
	UploadScreenshot(ctx context.Context, scope store.Scope, file io.ReadSeeker, capturedAt time.Time, timeEntryID *uuid.UUID) (*store.Screenshot, error)
}

// Resolver is the root of all resolvers.
type Resolver struct {
	store Store
	deps  Deps
	reads sharedReads // subscriptions' re-reads of a screenshot, shared while in flight
}

// New returns the resolver root, each object's resolver built once (root).
func New(s Store, d Deps) graph.ResolverRoot { return newRoot(&Resolver{store: s, deps: d}) }
