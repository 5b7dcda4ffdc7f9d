package httpapi

import (
	"bytes"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// appendResponse appends resp as json.Marshal would write it, with resp.Data (JSON already)
// copied rather than re-encoded: gqlgen's writer passes the data through json.Marshal, whose
// compaction (a state machine over every byte) into a second copy was ~15% of the CPU of a
// nested page of 60 KB. The data is copied once, through json.HTMLEscape, which escapes what
// Marshal escapes (<, >, & and U+2028/9 in strings), so the bytes are the same.
//
// A response without data (a request refused before execution) has no data entry, as GraphQL
// over HTTP asks.
func appendResponse(b []byte, resp *graphql.Response) ([]byte, error) {
	b = append(b, '{')
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, err
		}
		sep()
		b = append(b, `"errors":`...)
		b = append(b, errs...)
	}
	if resp.Data != nil {
		sep()
		b = append(b, `"data":`...)
		b = appendHTMLEscaped(b, resp.Data)
	}
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
		sep()
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

func appendErrorResponse(b []byte, errs gqlerror.List) ([]byte, error) {
	return appendResponse(b, &graphql.Response{Errors: errs})
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
