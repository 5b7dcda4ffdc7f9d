package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/blobs"
	"github.com/workingtracker/api/internal/reqid"
)

// SignedBlobs opens blobs by signed URL (a *blobs.Bucket).
type SignedBlobs interface {
	// OpenSigned verifies u and opens its blob: FORBIDDEN for a bad, expired or foreign
	// signature, NOT_FOUND for a missing blob.
	OpenSigned(ctx context.Context, u *url.URL) (*blobs.Object, error)
}

// servedImageTypes are the content types /blobs/ serves as they are; anything else is sent as
// an attachment of application/octet-stream, never rendered.
var servedImageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true}

// serveBlobs answers signed blob URLs (GET and HEAD). The URL is the credential: no
// Authorization header is needed (an <img> sends none), and a refusal says nothing of why (403)
// or that a blob is missing (404).
func serveBlobs(b SignedBlobs, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setAPIHeaders(w.Header())
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeRefusal(w, refusal{code: apperr.BadRequest, message: "blobs are read with GET", status: http.StatusMethodNotAllowed})
			return
		}
		if r.URL.Path != blobs.SignedPath {
			writeRefusal(w, refusal{code: apperr.NotFound, message: "not found", status: http.StatusNotFound})
			return
		}
		obj, err := b.OpenSigned(r.Context(), r.URL)
		switch apperr.CodeOf(err) {
		case apperr.Forbidden:
			writeRefusal(w, refusal{code: apperr.Forbidden, message: "this link is invalid or has expired", status: http.StatusForbidden})
			return
		case apperr.NotFound:
			writeRefusal(w, refusal{code: apperr.NotFound, message: "not found", status: http.StatusNotFound})
			return
		}
		if err != nil {
			id := reqid.From(r.Context())
			logger.ErrorContext(r.Context(), "open blob", "err", err, "request_id", id)
			writeRefusal(w, refusal{code: apperr.Internal, message: "internal error", extensions: map[string]any{"requestId": id}})
			return
		}
		defer obj.Close()
		h := w.Header()
		if servedImageTypes[obj.ContentType] {
			h.Set("Content-Type", obj.ContentType)
		} else {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Disposition", "attachment")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.FormatInt(obj.Size, 10))
		// Cached by the browser that holds the URL, no longer than the URL is valid.
		maxAge := max(int64(time.Until(obj.Expires)/time.Second), 0)
		h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(maxAge, 10))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		if _, err := io.Copy(w, obj); err != nil {
			logger.DebugContext(r.Context(), "send blob", "err", err, "request_id", reqid.From(r.Context()))
		}
	})
}
