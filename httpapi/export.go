package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/cost"
	"github.com/workingtracker/api/internal/policy"
	"github.com/workingtracker/api/internal/reqid"
	"github.com/workingtracker/api/store"
)

// ReportExports streams reports for /export/ (a *store.Store).
type ReportExports interface {
	// StreamProductivityReport counts the report's rows, calls admit with the count (its error
	// ends the export before any row), then calls row for each row, from a server-side cursor.
	StreamProductivityReport(ctx context.Context, scope store.Scope, p store.ProductivityParams,
		admit func(rows int) error, row func(*store.ProductivityRow) error) error
	// ReportFreshness says when the report views were refreshed.
	ReportFreshness(ctx context.Context) (store.ReportFreshness, error)
}

// Export paths.
const (
	ExportProductivityCSV   = "/export/productivity.csv"
	ExportProductivityJSONL = "/export/productivity.jsonl"
)

// exportFlushRows: a streamed export is flushed to the client every this many rows (and its
// buffer, 32 KiB, whenever it fills), so a client sees rows while the export runs and the
// server holds no more than a batch.
const exportFlushRows = 1000

// exportParams are the query parameters an export accepts: the productivityReport filter.
var exportParams = []string{"from", "to", "groupBy", "employeeId", "departmentId"}

// serveExports streams the productivity report as CSV or JSON lines, with productivityReport's
// filter as query parameters and its rules: the report roles (policy.ReportRoles), the report
// reach (policy.ReportScope), and the query-cost budget, charged up front by the rows the export
// will send (cost.RowsCost, counted in the export's own snapshot, so exactly what follows).
// Refusals come in the API's error shape before any row: 400 BAD_USER_INPUT (extensions.field)
// for bad parameters, 403, 429 RATE_LIMITED with Retry-After, 400 COMPLEXITY_LIMIT for an export
// larger than one operation may cost. A failure after the first row aborts the response (the
// client sees a broken transfer, never a short file that looks whole).
func serveExports(ex ReportExports, org policy.Org, budgets cost.Budgets, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var jsonl bool
		switch r.URL.Path {
		case ExportProductivityCSV:
		case ExportProductivityJSONL:
			jsonl = true
		default:
			writeRefusal(w, refusal{code: apperr.NotFound, message: "not found: exports are " + ExportProductivityCSV +
				" and " + ExportProductivityJSONL, status: http.StatusNotFound})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeRefusal(w, refusal{code: apperr.BadRequest, message: "exports are read with GET", status: http.StatusMethodNotAllowed})
			return
		}
		ctx := r.Context()
		p, err := policy.RequireAnyRole(ctx, policy.ReportRoles)
		if err != nil {
			writeAppError(w, err)
			return
		}
		params, err := parseExportParams(r.URL.Query())
		if err == nil {
			err = params.Validate()
		}
		if err != nil {
			writeAppError(w, err)
			return
		}
		scope, err := policy.NewScope(ctx, org, p)
		if err != nil {
			writeExportFailure(w, r, logger, err)
			return
		}
		scope = policy.ReportScope(p, scope)
		fresh, err := ex.ReportFreshness(ctx)
		if err != nil {
			writeExportFailure(w, r, logger, err)
			return
		}

		var out *exportWriter
		admit := func(rows int) error {
			points := cost.RowsCost(rows)
			status, refused, err := budgets.Charge(ctx, p, points)
			if err != nil {
				return err
			}
			if refused != nil {
				return refused
			}
			h := w.Header()
			h.Set("X-Export-Rows", strconv.Itoa(rows))
			h.Set("X-Query-Cost", strconv.Itoa(points))
			h.Set("X-Cost-Available", strconv.Itoa(status.CurrentlyAvailable))
			h.Set("X-Report-Refreshed-At", fresh.RefreshedAt.Format(time.RFC3339))
			name := "productivity.csv"
			if jsonl {
				h.Set("Content-Type", "application/x-ndjson; charset=utf-8")
				name = "productivity.jsonl"
			} else {
				h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
			}
			h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodHead {
				return errHeadOnly
			}
			out = newExportWriter(w, jsonl)
			return out.header()
		}
		err = ex.StreamProductivityReport(ctx, scope, params, admit, func(row *store.ProductivityRow) error {
			return out.row(row)
		})
		if err == nil && out != nil {
			err = out.finish()
		}
		switch {
		case err == nil || errors.Is(err, errHeadOnly):
		case out == nil:
			// Refused or failed before the first byte: an ordinary error response.
			var appErr *apperr.Error
			if errors.As(err, &appErr) {
				writeAppError(w, err)
				return
			}
			writeExportFailure(w, r, logger, err)
		default:
			// Rows were sent: abort the connection so that the client cannot take a partial
			// file for a whole one.
			if ctx.Err() == nil {
				logger.ErrorContext(ctx, "export failed mid-stream", "err", err, "request_id", reqid.From(ctx))
			}
			panic(http.ErrAbortHandler)
		}
	})
}

var errHeadOnly = errors.New("HEAD: headers only")

// writeAppError answers an *apperr.Error as a refusal: 400 for BAD_USER_INPUT and
// COMPLEXITY_LIMIT, 403 FORBIDDEN, 404 NOT_FOUND, otherwise its code's status (429 with
// Retry-After for RATE_LIMITED).
func writeAppError(w http.ResponseWriter, err error) {
	var e *apperr.Error
	if !errors.As(err, &e) {
		e = &apperr.Error{Code: apperr.Internal, Message: "internal error"}
	}
	f := refusal{code: e.Code, message: e.Message, extensions: map[string]any{}}
	// Not GraphQL: the status says what the code says (GraphQL answers these 200 with errors).
	switch e.Code {
	case apperr.BadUserInput, apperr.ComplexityLimit:
		f.status = http.StatusBadRequest
	case apperr.Forbidden:
		f.status = http.StatusForbidden
	case apperr.NotFound:
		f.status = http.StatusNotFound
	}
	if e.Field != "" {
		f.extensions["field"] = e.Field
	}
	for k, v := range e.Extensions {
		if k == "retryAfter" {
			f.retryAfter, _ = v.(int)
			continue
		}
		f.extensions[k] = v
	}
	writeRefusal(w, f)
}

func writeExportFailure(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if r.Context().Err() != nil {
		return
	}
	id := reqid.From(r.Context())
	logger.ErrorContext(r.Context(), "export", "err", err, "request_id", id)
	writeRefusal(w, refusal{code: apperr.Internal, message: "internal error", extensions: map[string]any{"requestId": id}})
}

// parseExportParams reads the filter: from and to as RFC 3339 times or YYYY-MM-DD dates (UTC),
// groupBy DAY|WEEK|MONTH (default DAY), employeeId repeated or comma-separated, departmentId.
// Unknown or repeated single parameters are refused, so a typo is not silently a wider export.
func parseExportParams(q url.Values) (store.ProductivityParams, error) {
	var p store.ProductivityParams
	for name, vs := range q {
		if !slices.Contains(exportParams, name) {
			return p, apperr.Invalid(name, "unknown parameter %q: exports take %s", truncate(name, 40), strings.Join(exportParams, ", "))
		}
		if name != "employeeId" && len(vs) > 1 {
			return p, apperr.Invalid(name, "%s is given more than once", name)
		}
	}
	var err error
	if p.From, err = parseExportTime("from", q.Get("from")); err != nil {
		return p, err
	}
	if p.To, err = parseExportTime("to", q.Get("to")); err != nil {
		return p, err
	}
	p.GroupBy = store.GroupByDay
	if v := q.Get("groupBy"); v != "" {
		p.GroupBy = v
	}
	for _, v := range q["employeeId"] {
		for _, s := range strings.Split(v, ",") {
			id, err := uuid.Parse(strings.TrimSpace(s))
			if err != nil {
				return p, apperr.Invalid("employeeId", "employeeId %q is not a valid id", truncate(s, 40))
			}
			p.EmployeeIDs = append(p.EmployeeIDs, id)
			if len(p.EmployeeIDs) > store.MaxReportEmployees {
				return p, apperr.Invalid("employeeId", "at most %d employeeIds", store.MaxReportEmployees)
			}
		}
	}
	if v := q.Get("departmentId"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return p, apperr.Invalid("departmentId", "departmentId is not a valid id")
		}
		p.DepartmentID = &id
	}
	return p, nil
}

func parseExportTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, apperr.Invalid(field, "%s is required (YYYY-MM-DD or an RFC 3339 time)", field)
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, apperr.Invalid(field, "%s must be YYYY-MM-DD or an RFC 3339 time such as 2026-01-01T00:00:00Z", field)
	}
	return t, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// exportWriter formats rows into a buffer over the response and flushes it every
// exportFlushRows rows: memory stays one buffer and one row whatever the export's size.
type exportWriter struct {
	w     *bufio.Writer
	rc    *http.ResponseController
	csv   *csv.Writer
	rows  int
	jsonl bool
	rec   []string
	line  []byte
}

func newExportWriter(w http.ResponseWriter, jsonl bool) *exportWriter {
	bw := bufio.NewWriterSize(w, 32<<10)
	e := &exportWriter{w: bw, rc: http.NewResponseController(w), jsonl: jsonl}
	if !jsonl {
		e.csv = csv.NewWriter(bw)
		e.rec = make([]string, 9)
	}
	return e
}

var exportCSVHeader = []string{"employee_id", "period_start", "period_end", "total_seconds", "billable_seconds",
	"total_hours", "billable_hours", "entry_count", "distinct_projects"}

func (e *exportWriter) header() error {
	if e.jsonl {
		return nil
	}
	return e.csv.Write(exportCSVHeader)
}

func (e *exportWriter) row(r *store.ProductivityRow) error {
	if e.jsonl {
		b := e.line[:0]
		b = append(b, `{"employeeId":"`...)
		b = append(b, r.EmployeeID.String()...)
		b = append(b, `","periodStart":"`...)
		b = r.PeriodStart.AppendFormat(b, time.RFC3339)
		b = append(b, `","periodEnd":"`...)
		b = r.PeriodEnd.AppendFormat(b, time.RFC3339)
		b = append(b, `","totalSeconds":`...)
		b = strconv.AppendInt(b, int64(r.TotalSeconds), 10)
		b = append(b, `,"billableSeconds":`...)
		b = strconv.AppendInt(b, int64(r.BillableSeconds), 10)
		b = append(b, `,"totalHours":`...)
		b = strconv.AppendFloat(b, r.TotalHours(), 'f', -1, 64)
		b = append(b, `,"billableHours":`...)
		b = strconv.AppendFloat(b, r.BillableHours(), 'f', -1, 64)
		b = append(b, `,"entryCount":`...)
		b = strconv.AppendInt(b, int64(r.EntryCount), 10)
		b = append(b, `,"distinctProjects":`...)
		b = strconv.AppendInt(b, int64(r.DistinctProjects), 10)
		b = append(b, "}\n"...)
		e.line = b
		if _, err := e.w.Write(b); err != nil {
			return err
		}
	} else {
		e.rec[0] = r.EmployeeID.String()
		e.rec[1] = r.PeriodStart.Format(time.DateOnly)
		e.rec[2] = r.PeriodEnd.Format(time.DateOnly)
		e.rec[3] = strconv.Itoa(r.TotalSeconds)
		e.rec[4] = strconv.Itoa(r.BillableSeconds)
		e.rec[5] = strconv.FormatFloat(r.TotalHours(), 'f', -1, 64)
		e.rec[6] = strconv.FormatFloat(r.BillableHours(), 'f', -1, 64)
		e.rec[7] = strconv.Itoa(r.EntryCount)
		e.rec[8] = strconv.Itoa(r.DistinctProjects)
		if err := e.csv.Write(e.rec); err != nil {
			return err
		}
	}
	e.rows++
	if e.rows%exportFlushRows == 0 {
		return e.flush()
	}
	return nil
}

func (e *exportWriter) flush() error {
	if e.csv != nil {
		e.csv.Flush()
		if err := e.csv.Error(); err != nil {
			return err
		}
	}
	if err := e.w.Flush(); err != nil {
		return err
	}
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (e *exportWriter) finish() error { return e.flush() }
