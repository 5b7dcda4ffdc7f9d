package telemetry

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// redactedAttributes are dropped from every exported span and span event, whichever library set
// them: the GraphQL document (its literals may be e-mail addresses or names) and otelgqlgen's
// variables and resolver arguments, statement and command arguments, and the end user's
// forwarded address. Keys ending in "." are prefixes.
var redactedAttributes = []string{
	"gql.request.query",
	"gql.request.variables.",
	"gql.resolver.args.",
	"graphql.document",
	"pgx.query.parameters",
	"db.query.parameter.",
	"db.statement", // redisotel's command with its arguments (also turned off there)
	"client.address",
	"http.client_ip",
	"url.query",
	"url.full",
	"http.request.header.",
	"http.response.header.",
	"enduser.",
}

func redacted(k attribute.Key) bool {
	for _, r := range redactedAttributes {
		if strings.HasSuffix(r, ".") {
			if strings.HasPrefix(string(k), r) {
				return true
			}
		} else if string(k) == r {
			return true
		}
	}
	return false
}

// redactingExporter hands its exporter spans without redacted attributes.
type redactingExporter struct{ next sdktrace.SpanExporter }

func (e redactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = redactSpan(s)
	}
	return e.next.ExportSpans(ctx, out)
}

func (e redactingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

// redactedSpan is a span with some attributes left out (embedding the interface gives it the
// SDK's unexported method).
type redactedSpan struct {
	sdktrace.ReadOnlySpan
	attrs  []attribute.KeyValue
	events []sdktrace.Event
}

func (s redactedSpan) Attributes() []attribute.KeyValue { return s.attrs }
func (s redactedSpan) Events() []sdktrace.Event         { return s.events }

func redactSpan(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	attrs, changed := keep(s.Attributes())
	events := s.Events()
	var evChanged bool
	for i, ev := range events {
		a, c := keep(ev.Attributes)
		if !c {
			continue
		}
		if !evChanged {
			events, evChanged = append([]sdktrace.Event(nil), events...), true
		}
		events[i].Attributes = a
	}
	if !changed && !evChanged {
		return s
	}
	return redactedSpan{ReadOnlySpan: s, attrs: attrs, events: events}
}

// keep returns attrs without the redacted ones, and whether any was.
func keep(attrs []attribute.KeyValue) ([]attribute.KeyValue, bool) {
	for i, a := range attrs {
		if !redacted(a.Key) {
			continue
		}
		out := append([]attribute.KeyValue(nil), attrs[:i]...)
		for _, b := range attrs[i+1:] {
			if !redacted(b.Key) {
				out = append(out, b)
			}
		}
		return out, true
	}
	return attrs, false
}
