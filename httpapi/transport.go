package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/cost"
	"github.com/workingtracker/api/internal/httpcache"
	"github.com/workingtracker/api/internal/persisted"
	"github.com/workingtracker/api/internal/telemetry"
)

// The response media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// graphqlHTTP serves GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/):
// POST with a JSON body and GET with query parameters (queries only: a GET can be sent by any
// page, a link or an image). It replaces gqlgen's POST and GET transports so that the status of
// every response is decided here, once, from the codes of its errors:
//   - a response with data is 200;
//   - a document that does not parse, validate or coerce its variables, or is over a limit, is
//     200 for application/json clients and 400 with no data entry for
//     application/graphql-response+json clients;
//   - an operation refused before execution answers its code's status (429 with Retry-After
//     for a spent budget, 500 for an internal fault).
//
// It also writes the data as gqlgen produced it (see appendResponse) with its length, and never
// echoes a request body back in an error.
type graphqlHTTP struct{}

var _ graphql.Transport = graphqlHTTP{}

// Supports every request but upgrades and OPTIONS (gqlgen's Options transport): a method GraphQL
// over HTTP does not use is refused here, in the API's error shape, not by gqlgen's fallback.
func (graphqlHTTP) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method != http.MethodOptions
}

func (t graphqlHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	mt := responseMediaType(r.Header.Get("Accept"))
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		writeErrors(w, mt, http.StatusMethodNotAllowed, gqlerror.List{refusal{code: apperr.BadRequest,
			message: "GraphQL is served over GET and POST"}.gqlError()})
		return
	}
	start := graphql.Now()
	params, f := readParams(r)
	if f != nil {
		writeErrors(w, mt, f.httpStatus(), gqlerror.List{f.gqlError()})
		return
	}
	t.run(w, r, mt, params, start, exec)
}

// run executes the request's GraphQL parameters and writes the response (GraphQL over HTTP and
// multipart uploads alike).
func (t graphqlHTTP) run(w http.ResponseWriter, r *http.Request, mt string, params *graphql.RawParams, start time.Time,
	exec graphql.GraphExecutor,
) {
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	// The operation's start (Stats.OperationStart), as gqlgen's own transports record it: the
	// metrics time operations from here, parsing and validation included.
	ctx := graphql.StartOperationTrace(r.Context())
	rc, errs := exec.CreateOperationContext(ctx, params)
	if rec := observed(w); rec != nil && rc != nil && rc.Operation != nil {
		// The parsed operation's name (a GraphQL name), never the client's raw operationName.
		rec.operationName, rec.operationType = rc.Operation.Name, string(rc.Operation.Operation)
	}
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		resp.Data = nil // refused before execution: no data entry
		t.write(w, mt, resp)
		return
	}
	if r.Method == http.MethodGet && rc.Operation != nil && rc.Operation.Operation != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		writeErrors(w, mt, http.StatusMethodNotAllowed, gqlerror.List{refusal{code: apperr.BadRequest,
			message: fmt.Sprintf("a %s cannot be sent with GET: use POST", rc.Operation.Operation)}.gqlError()})
		return
	}
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription {
		writeErrors(w, mt, http.StatusBadRequest, gqlerror.List{refusal{code: apperr.BadRequest,
			message: "subscriptions are served over websockets (graphql-transport-ws) and Server-Sent Events (Accept: text/event-stream)"}.gqlError()})
		return
	}
	// A persisted GET may be cached: internal/httpcache's gate, in the operation chain, decides
	// its validators and may answer 304 without running it.
	var cache *httpcache.Request
	if r.Method == http.MethodGet {
		if _, ok := persisted.Of(rc); ok {
			cache = httpcache.Attach(rc, r.Header.Get("If-None-Match"), mt)
		}
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if cache != nil {
		if cache.NotModified {
			writeNotModified(w, cache)
			return
		}
		// Only an answer without errors is validated: a tag stands for data as a full run gave it.
		if cache.ETag != "" && resp != nil && resp.Data != nil && len(resp.Errors) == 0 {
			setValidators(w.Header(), cache)
		}
	}
	t.write(w, mt, resp)
}

// setValidators replaces the default Cache-Control: no-store of a cacheable answer.
func setValidators(h http.Header, c *httpcache.Request) {
	h.Set("ETag", c.ETag)
	h.Set("Cache-Control", c.CacheControl)
	// The tag is the principal's (Authorization) and the media type's (Accept).
	h.Add("Vary", "Authorization, Accept") // added to CORS's Vary: Origin
}

// writeNotModified answers a revalidation whose tag still holds: no body, the same validators.
func writeNotModified(w http.ResponseWriter, c *httpcache.Request) {
	setValidators(w.Header(), c)
	w.WriteHeader(http.StatusNotModified)
}

func (graphqlHTTP) write(w http.ResponseWriter, mt string, resp *graphql.Response) {
	if resp == nil {
		resp = &graphql.Response{}
	}
	if rec := observed(w); rec != nil {
		rec.codes = telemetry.ErrorCodes(resp.Errors)
		rec.cost, rec.hasCost = cost.Requested(resp)
	}
	status := statusOf(mt, resp.Data != nil, resp.Errors)
	if status == http.StatusTooManyRequests {
		if s, ok := resp.Errors[0].Extensions["retryAfter"].(int); ok {
			w.Header().Set("Retry-After", strconv.Itoa(s))
		}
	}
	size := len(resp.Data) + 512
	body, err := appendResponse(make([]byte, 0, size), resp)
	if err != nil {
		writeErrors(w, mt, http.StatusInternalServerError, gqlerror.List{refusal{code: apperr.Internal,
			message: "internal error"}.gqlError()})
		return
	}
	writeBody(w, mt, status, body)
}

// responseMediaType picks the media type of the response from the request's Accept header: the
// first acceptable of GraphQL over HTTP's two, application/json when there is none (a missing
// header, */*, or legacy clients).
func responseMediaType(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON, "application/*", "*/*":
			return mediaJSON
		}
	}
	return mediaJSON
}

// readParams reads a request's GraphQL parameters: from a POST's JSON body (UTF-8) or a GET's
// query string. A request that is not GraphQL at all is refused as BAD_REQUEST (400), or 415 for
// a POST that is not JSON: forms and text/plain are what a cross-site page can send without a
// preflight.
func readParams(r *http.Request) (*graphql.RawParams, *refusal) {
	params := &graphql.RawParams{}
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, &refusal{code: apperr.BadRequest, message: "the query string could not be read"}
		}
		params.Query, params.OperationName = q.Get("query"), q.Get("operationName")
		documentID := q.Get("documentId")
		for _, p := range []struct {
			name string
			into *map[string]any
		}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
			if v := q.Get(p.name); v != "" {
				if err := decodeJSON(strings.NewReader(v), p.into); err != nil {
					return nil, &refusal{code: apperr.BadRequest, message: p.name + " must be a JSON object"}
				}
			}
		}
		setDocumentID(params, documentID)
	} else {
		mt, ctParams, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != mediaJSON || (ctParams["charset"] != "" && !strings.EqualFold(ctParams["charset"], "utf-8")) {
			return nil, &refusal{code: apperr.BadRequest,
				message: "send the request as application/json (UTF-8)", status: http.StatusUnsupportedMediaType}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, &refusal{code: apperr.BadRequest, message: "could not read the request body"}
		}
		var req requestBody
		if err := decodeJSON(bytes.NewReader(body), &req); err != nil {
			return nil, &refusal{code: apperr.BadRequest, message: "the body must be one JSON object: {\"query\": …, \"variables\": {…}}"}
		}
		*params = req.RawParams
		setDocumentID(params, req.DocumentID)
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil && params.Extensions[persisted.DocumentIDKey] == nil {
		return nil, &refusal{code: apperr.BadRequest, message: "the request has no query"}
	}
	return params, nil
}

func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

// requestBody is a POST's JSON body: gqlgen's parameters and GraphQL over HTTP's documentId
// (persisted documents), which gqlgen's do not hold.
type requestBody struct {
	graphql.RawParams
	DocumentID string `json:"documentId"`
}

// setDocumentID hands a request's documentId to internal/persisted among its extensions.
func setDocumentID(params *graphql.RawParams, id string) {
	if id == "" {
		return
	}
	if params.Extensions == nil {
		params.Extensions = map[string]any{}
	}
	params.Extensions[persisted.DocumentIDKey] = id
}
