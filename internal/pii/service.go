package pii

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/store"
)

// Audit actions of the personal data (AuditLog.action).
const (
	ActionReveal = "pii.reveal"
	ActionSearch = "pii.search"
	ActionExport = "pii.export"
)

// Cipher is the tenant-keyed encryption the service uses (a *Keyring).
type Cipher interface {
	Encrypt(ctx context.Context, tenant, row uuid.UUID, field, plaintext string) ([]byte, error)
	Decrypt(ctx context.Context, tenant, row uuid.UUID, field string, ciphertext []byte) (string, error)
	BlindIndex(ctx context.Context, tenant uuid.UUID, field, normalised string) ([]byte, error)
}

// Store runs the service's reads and writes in one transaction of a tenant (*store.Store), so
// that what is read or written commits with its audit entry or not at all.
type Store interface {
	InTx(ctx context.Context, scope store.Scope, fn func(tx *store.Store) error) error
}

// Service sets, reveals, searches, exports and erases employees' personal data. It validates
// and encrypts before the store sees anything, so the store only ever holds ciphertexts and
// blind indexes; it decrypts only inside the transaction that records who saw what. Who may
// call each operation is the schema's and package policy's business; which employees the
// scope reaches, the store's (NOT_FOUND beyond).
type Service struct {
	store  Store
	cipher Cipher
}

// NewService returns a service over s, encrypting with c.
func NewService(s Store, c Cipher) *Service { return &Service{store: s, cipher: c} }

// Set stores values, by field (a PIIField value): a nil value clears the field and its blind
// index; a field absent is left as it is. Every value is checked (BAD_USER_INPUT naming the
// input field) before anything is encrypted or written.
func (s *Service) Set(ctx context.Context, scope store.Scope, employee uuid.UUID, values map[string]*string) (*store.Employee, error) {
	canonical := make(map[string]string, len(values))
	for _, field := range Fields() {
		v, ok := values[field]
		if !ok || v == nil {
			continue
		}
		c, err := Normalise(field, *v, InputName(field))
		if err != nil {
			return nil, err
		}
		canonical[field] = c
	}
	stored := make(map[string]store.PIIValue, len(values))
	for _, field := range Fields() {
		if _, ok := values[field]; !ok {
			continue
		}
		c, set := canonical[field]
		if !set {
			stored[field] = store.PIIValue{}
			continue
		}
		ct, err := s.cipher.Encrypt(ctx, scope.TenantID, employee, field, c)
		if err != nil {
			return nil, err
		}
		idx, err := s.cipher.BlindIndex(ctx, scope.TenantID, field, IndexForm(c))
		if err != nil {
			return nil, err
		}
		stored[field] = store.PIIValue{Ciphertext: ct, BlindIndex: idx}
	}
	var out *store.Employee
	err := s.store.InTx(ctx, scope, func(tx *store.Store) error {
		var err error
		out, err = tx.SetEmployeePII(ctx, scope, employee, stored)
		return err
	})
	return out, err
}

// Reveal returns the plaintext of fields (by field; nil when unset) of employee, having
// recorded in the audit log, in the same transaction, who saw which fields and why: when the
// entry cannot be written, nothing is revealed. A ciphertext that does not decrypt (moved from
// another row, altered) fails the whole reveal with an internal error.
func (s *Service) Reveal(ctx context.Context, scope store.Scope, employee uuid.UUID, fields []string, reason string) (*store.Employee, map[string]*string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, nil, apperr.Invalid("reason", "reason must say why the data is needed")
	}
	fields = distinctFields(fields)
	if len(fields) == 0 {
		return nil, nil, apperr.Invalid("fields", "fields must name at least one kind of personal data")
	}
	var e *store.Employee
	var plain map[string]*string
	err := s.store.InTx(ctx, scope, func(tx *store.Store) error {
		var err error
		if e, err = tx.EmployeeWithPII(ctx, scope, employee); err != nil {
			return err
		}
		if plain, err = s.open(ctx, scope, e, fields); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, scope, store.AuditEntry{Action: ActionReveal, ResourceType: "Employee",
			ResourceID: &employee, ChangedFields: fields, Reason: reason})
	})
	if err != nil {
		return nil, nil, err
	}
	scrub(e)
	return e, plain, nil
}

// Search returns the employee whose field equals value (normalised), through the blind index:
// no row is decrypted. The search is audited whatever it finds; nil when nothing matches.
func (s *Service) Search(ctx context.Context, scope store.Scope, field, value string) (*store.Employee, error) {
	c, err := Normalise(field, value, "value")
	if err != nil {
		return nil, err
	}
	idx, err := s.cipher.BlindIndex(ctx, scope.TenantID, field, IndexForm(c))
	if err != nil {
		return nil, err
	}
	var found *store.Employee
	err = s.store.InTx(ctx, scope, func(tx *store.Store) error {
		var err error
		if found, err = tx.EmployeeByBlindIndex(ctx, scope, field, idx); err != nil {
			return err
		}
		entry := store.AuditEntry{Action: ActionSearch, ResourceType: "Employee", ChangedFields: []string{field}}
		if found != nil {
			entry.ResourceID = &found.ID
		}
		return tx.AppendAudit(ctx, scope, entry)
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// Export returns everything held about employee as one JSON object (see exportData), its
// personal data decrypted, and records the export in the audit log in the same transaction.
func (s *Service) Export(ctx context.Context, scope store.Scope, employee uuid.UUID, now time.Time) (*store.Employee, map[string]any, error) {
	var rec *store.EmployeeRecord
	var plain map[string]*string
	err := s.store.InTx(ctx, scope, func(tx *store.Store) error {
		var err error
		if rec, err = tx.EmployeeRecord(ctx, scope, employee); err != nil {
			return err
		}
		if plain, err = s.open(ctx, scope, rec.Employee, Fields()); err != nil {
			return err
		}
		var held []string
		for _, f := range Fields() {
			if plain[f] != nil {
				held = append(held, f)
			}
		}
		return tx.AppendAudit(ctx, scope, store.AuditEntry{Action: ActionExport, ResourceType: "Employee",
			ResourceID: &employee, ChangedFields: held})
	})
	if err != nil {
		return nil, nil, err
	}
	data := exportData(rec, plain, now)
	scrub(rec.Employee)
	return rec.Employee, data, nil
}

// Erase overwrites employee's personal data: ciphertexts and blind indexes removed, name and
// e-mail replaced by a pseudonym derived from the id (store.EraseEmployeePII).
func (s *Service) Erase(ctx context.Context, scope store.Scope, employee uuid.UUID) (*store.Employee, error) {
	var out *store.Employee
	err := s.store.InTx(ctx, scope, func(tx *store.Store) error {
		var err error
		out, err = tx.EraseEmployeePII(ctx, scope, employee)
		return err
	})
	return out, err
}

// open decrypts fields of e (which carries its ciphertexts).
func (s *Service) open(ctx context.Context, scope store.Scope, e *store.Employee, fields []string) (map[string]*string, error) {
	out := make(map[string]*string, len(fields))
	for _, f := range fields {
		ct := e.Ciphertext(f)
		if ct == nil {
			out[f] = nil
			continue
		}
		pt, err := s.cipher.Decrypt(ctx, scope.TenantID, e.ID, f, ct)
		if err != nil {
			return nil, fmt.Errorf("open personal data: %w", err)
		}
		out[f] = &pt
	}
	return out, nil
}

// scrub drops the ciphertexts of e, which is handed on to resolvers that need none.
func scrub(e *store.Employee) {
	e.SSNCiphertext, e.TaxIDCiphertext, e.PassportCiphertext, e.BankAccountCiphertext = nil, nil, nil, nil
}

func distinctFields(fields []string) []string {
	var out []string
	for _, f := range Fields() {
		if slices.Contains(fields, f) {
			out = append(out, f)
		}
	}
	return out
}

// exportData is the JSON object of a GDPR access request: the profile, the personal data in
// plaintext (by GraphQL name, null when unset), the projects the employee is a member of, their
// time entries, their screenshots' metadata and their API keys' metadata.
func exportData(rec *store.EmployeeRecord, plain map[string]*string, now time.Time) map[string]any {
	e := rec.Employee
	personal := map[string]any{}
	for _, f := range Fields() {
		personal[InputName(f)] = plain[f]
	}
	entries := make([]any, len(rec.TimeEntries))
	for i, t := range rec.TimeEntries {
		entries[i] = map[string]any{"id": t.ID, "projectId": t.ProjectID, "taskId": t.TaskID, "startTime": t.StartTime,
			"endTime": t.EndTime, "description": t.Description, "billable": t.Billable, "source": t.Source,
			"createdAt": t.CreatedAt, "updatedAt": t.UpdatedAt}
	}
	shots := make([]any, len(rec.Screenshots))
	for i, s := range rec.Screenshots {
		shots[i] = map[string]any{"id": s.ID, "timeEntryId": s.TimeEntryID, "capturedAt": s.CapturedAt, "status": s.Status,
			"width": s.Width, "height": s.Height, "blurred": s.Blurred, "originalFormat": s.OriginalFormat,
			"originalBytes": s.OriginalBytes, "imageBytes": s.ImageBytes, "thumbnailBytes": s.ThumbnailBytes,
			"failureReason": s.FailureReason, "createdAt": s.CreatedAt, "processedAt": s.ProcessedAt}
	}
	keys := make([]any, len(rec.APIKeys))
	for i, k := range rec.APIKeys {
		keys[i] = map[string]any{"id": k.ID, "name": k.Name, "role": k.Role, "createdAt": k.CreatedAt,
			"expiresAt": k.ExpiresAt, "revokedAt": k.RevokedAt, "lastUsedAt": k.LastUsedAt}
	}
	// Who did what to the person's data, and what they did: another actor's address and user
	// agent are that actor's personal data, so only the employee's own are included.
	logs := make([]any, len(rec.AuditLogs))
	for i, l := range rec.AuditLogs {
		entry := map[string]any{"occurredAt": l.OccurredAt, "action": l.Action, "actorType": l.ActorType,
			"actorId": l.ActorID, "resourceType": l.ResourceType, "resourceId": l.ResourceID,
			"changedFields": l.ChangedFields, "reason": l.Reason}
		if l.ActorID != nil && *l.ActorID == e.ID {
			entry["clientIp"], entry["userAgent"] = l.ClientIP, l.UserAgent
		}
		logs[i] = entry
	}
	return map[string]any{
		"generatedAt": now.UTC(),
		"auditLogs":   logs,
		"employee": map[string]any{"id": e.ID, "name": e.Name, "email": e.Email, "role": e.Role, "status": e.Status,
			"hourlyRate": e.HourlyRate, "departmentId": e.DepartmentID, "managerId": e.ManagerID,
			"createdAt": e.CreatedAt, "updatedAt": e.UpdatedAt},
		"personalData": personal,
		"projectIds":   rec.ProjectIDs,
		"timeEntries":  entries,
		"screenshots":  shots,
		"apiKeys":      keys,
	}
}
