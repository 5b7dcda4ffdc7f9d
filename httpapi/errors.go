package httpapi

import (
	"net/http"
	"strconv"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/telemetry"
)

// refusal is a request refused before any data: one error, its code's status, and the headers
// the status needs.
type refusal struct {
	code    apperr.Code
	message string
	// retryAfter, in seconds, is sent as Retry-After and extensions.retryAfter (429).
	retryAfter int
	extensions map[string]any
	// status replaces the code's HTTP status where the refusal needs a more precise one (415).
	status int
}

func (f refusal) httpStatus() int {
	if f.status != 0 {
		return f.status
	}
	return f.code.HTTPStatus()
}

func (f refusal) gqlError() *gqlerror.Error {
	ext := map[string]any{"code": string(f.code)}
	for k, v := range f.extensions {
		ext[k] = v
	}
	if f.retryAfter > 0 {
		ext["retryAfter"] = f.retryAfter
	}
	return &gqlerror.Error{Message: f.message, Extensions: ext}
}

// writeRefusal answers a request refused before any GraphQL ran (authentication, body limits,
// websocket bounds, panics), in the GraphQL error shape clients already handle.
func writeRefusal(w http.ResponseWriter, f refusal) {
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
	}
	if f.code == apperr.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="workingtracker"`)
	}
	writeErrors(w, mediaJSON, f.httpStatus(), gqlerror.List{f.gqlError()})
}

// writeErrors writes a response of errors alone, with no data entry, in media type mt.
func writeErrors(w http.ResponseWriter, mt string, status int, errs gqlerror.List) {
	if rec := observed(w); rec != nil {
		rec.codes = telemetry.ErrorCodes(errs)
	}
	body, err := appendErrorResponse(nil, errs)
	if err != nil {
		body = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
		status = http.StatusInternalServerError
	}
	writeBody(w, mt, status, body)
}

// writeBody writes a whole JSON body with its length: net/http then sends it as it is rather
// than in chunks.
func writeBody(w http.ResponseWriter, mt string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", mt+"; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// statusOf is the status of a GraphQL response: 200 when it carries data, else the status of
// its first error's code, where document errors answer 200 to application/json clients (GraphQL
// over HTTP's legacy media type).
func statusOf(mt string, hasData bool, errs gqlerror.List) int {
	if hasData || len(errs) == 0 {
		return http.StatusOK
	}
	code := errorCode(errs[0])
	if code.IsDocumentError() && mt == mediaJSON {
		return http.StatusOK
	}
	return code.HTTPStatus()
}

func errorCode(e *gqlerror.Error) apperr.Code {
	c, _ := e.Extensions["code"].(string)
	return apperr.Code(c)
}
