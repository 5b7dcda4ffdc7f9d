package graph

import (
	"context"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Stream is a transport's side of one subscription: it lets the subscription's resolver say
// when its channel holds a value (or was closed), so that the transport reads the stream then
// instead of parking a goroutine on it, and hand over the errors that end the stream.
//
// gqlgen reads a subscription through its response handler, whose every call blocks until the
// resolver's channel yields; a transport that calls it on a goroutine of its own holds one
// goroutine (a stack) per open subscription while nothing happens. A resolver that calls
// Notify after each value it puts in its channel and after closing it, and Notifying as its
// last step before returning the channel, lets the transport call the handler only when a call
// returns at once (httpapi's graphql-transport-ws transport does). A resolver that returns an
// error must not call Notifying: the transport then reads the operation's response as usual.
type Stream interface {
	// Notifying marks the subscription as one that calls Notify.
	Notifying()
	// Notify reports that the resolver's channel holds one more value, or was closed: a call of
	// the response handler now returns without waiting.
	Notify()
	// Fail records errors that end the stream, to be sent in place of its completion.
	Fail(errs gqlerror.List)
}

type streamKey struct{}

// WithStream marks ctx, a subscription's, as read by s.
func WithStream(ctx context.Context, s Stream) context.Context {
	return context.WithValue(ctx, streamKey{}, s)
}

// StreamFrom returns the transport's stream of ctx's subscription: none (ok false) when the
// transport reads the channel itself (SSE, graphql-ws).
func StreamFrom(ctx context.Context) (Stream, bool) {
	s, ok := ctx.Value(streamKey{}).(Stream)
	return s, ok
}

// FailStream records errs as the end of ctx's subscription on a transport that reads it through
// a Stream, and reports whether there was one.
func FailStream(ctx context.Context, errs gqlerror.List) bool {
	s, ok := StreamFrom(ctx)
	if ok {
		s.Fail(errs)
	}
	return ok
}
