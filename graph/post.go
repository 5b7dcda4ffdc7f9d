package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// jsonPOST is gqlgen's POST transport, but an operation's response is written here rather than
// by gqlgen's writeJson, which passes it through json.Marshal: the data, already JSON, went
// through encoding/json's compaction (a state machine over every byte) into a second copy —
// ~15% of the CPU of a nested page of 60 KB. Here the data is copied once, through
// json.HTMLEscape, which escapes what Marshal escapes (<, >, & and U+2028/9 in strings), so the
// bytes are the same as before. Everything else — content negotiation, request decoding,
// parse and validation errors, their status codes — stays gqlgen's.
type jsonPOST struct {
	transport.POST
}

func (t jsonPOST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	once := &writtenOnce{ResponseWriter: w}
	t.POST.Do(once, r, directResponse{GraphExecutor: exec, w: once})
}

// directResponse writes the response of the operation itself, then hands POST.Do an empty one
// for writtenOnce to drop.
type directResponse struct {
	graphql.GraphExecutor
	w *writtenOnce
}

func (d directResponse) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	next, ctx := d.GraphExecutor.DispatchOperation(ctx, rc)
	return func(ctx context.Context) *graphql.Response {
		resp := next(ctx)
		// Without data (an error response) gqlgen writes it: small, and `data` stays as it
		// would have been.
		if resp == nil || len(resp.Data) == 0 || d.w.written {
			return resp
		}
		body, err := appendResponse(make([]byte, 0, len(resp.Data)+512), resp)
		if err != nil {
			return resp
		}
		d.w.written = true
		// The whole body is here: with its length, net/http sends it as it is rather than in
		// chunks (a month of entries, 9 KB, went out as chunked writes and a flush: ~9% of
		// the CPU of Workloads/monthEntries in syscalls and chunk framing).
		d.w.ResponseWriter.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = d.w.ResponseWriter.Write(body)
		return &graphql.Response{}
	}, ctx
}

// writtenOnce drops what POST.Do writes after directResponse wrote the response.
type writtenOnce struct {
	http.ResponseWriter
	written bool
}

func (w *writtenOnce) Write(b []byte) (int, error) {
	if w.written {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// appendResponse appends resp as json.Marshal would write it, with resp.Data (JSON already)
// copied rather than re-encoded.
func appendResponse(b []byte, resp *graphql.Response) ([]byte, error) {
	b = append(b, '{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, err
		}
		b = append(b, `"errors":`...)
		b = append(b, errs...)
		b = append(b, ',')
	}
	b = append(b, `"data":`...)
	b = appendHTMLEscaped(b, resp.Data)
	for _, f := range []struct {
		name  string
		value any
		set   bool
	}{
		{"label", resp.Label, resp.Label != ""},
		{"path", resp.Path, len(resp.Path) > 0},
		{"hasNext", resp.HasNext, resp.HasNext != nil},
		{"extensions", resp.Extensions, len(resp.Extensions) > 0},
	} {
		if !f.set {
			continue
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"`...)
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// appendHTMLEscaped appends data through json.HTMLEscape, or as it is when it holds none of the
// bytes HTMLEscape rewrites (<, >, & and 0xE2, the first byte of U+2028/9): HTMLEscape looks at
// every byte in turn, bytes.IndexByte skims (~5% of a nested page's CPU, for the common case).
func appendHTMLEscaped(b, data []byte) []byte {
	if bytes.IndexByte(data, '<') < 0 && bytes.IndexByte(data, '>') < 0 && bytes.IndexByte(data, '&') < 0 &&
		bytes.IndexByte(data, 0xE2) < 0 {
		return append(b, data...)
	}
	buf := bytes.NewBuffer(b)
	json.HTMLEscape(buf, data)
	return buf.Bytes()
}
