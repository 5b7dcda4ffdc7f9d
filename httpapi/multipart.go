package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/workingtracker/api/internal/apperr"
)

// DefaultMaxUploadBytes is Opts.MaxUploadBytes's default (MAX_UPLOAD_BYTES).
const DefaultMaxUploadBytes = 10 << 20

// uploadAllowance is what a multipart body may carry beside its files: the operations part (as
// large as a JSON request may be), the map and the parts' headers.
const uploadAllowance = maxRequestBytes

// Bounds of a multipart request's parts besides the files.
const (
	maxUploadMapBytes = 16 << 10
	maxUploadFiles    = 10
	// uploadMemory is how much of a file is held in memory; the rest spills to a temporary
	// file, so a few concurrent 10 MiB uploads do not cost their size in RAM each.
	uploadMemory = 64 << 10
)

// preflightHeaders are the headers a multipart request must carry one of. A browser sends none
// of them cross-site without a CORS preflight (which only the allowed origins pass), while a
// multipart/form-data POST on its own is a "simple" request any page can make: without this
// check, a page could upload into a signed-in session (CSRF). Apollo's clients and the GraphQL
// multipart spec's name them.
var preflightHeaders = []string{"apollo-require-preflight", "x-apollo-operation-name", "graphql-preflight"}

// multipartHTTP serves GraphQL multipart requests (https://github.com/jaydenseric/graphql-multipart-request-spec):
// a POST of multipart/form-data whose parts are operations (the JSON request), map (which file
// goes to which variable) and the files. It replaces gqlgen's transport.MultipartForm, which
// writes its own statuses and bodies (200 for a body over its limit, 422 without a code), so
// that uploads are refused and answered by the same rules as every other request: refusals
// through writeErrors, responses through graphqlHTTP.run. gqlgen's own RawParams.AddUpload
// places the files.
type multipartHTTP struct{}

func (multipartHTTP) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method == http.MethodPost && isMultipart(r)
}

func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

func (multipartHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	mt := responseMediaType(r.Header.Get("Accept"))
	start := graphql.Now()
	if !hasPreflightHeader(r) {
		writeErrors(w, mt, http.StatusBadRequest, gqlerror.List{refusal{code: apperr.BadRequest,
			message: "a multipart request needs one of the headers " + strings.Join(preflightHeaders, ", ") +
				" (protection against cross-site requests)"}.gqlError()})
		return
	}
	var files spooled
	defer files.remove()
	params, f := readMultipart(r, &files)
	if f != nil {
		writeErrors(w, mt, f.httpStatus(), gqlerror.List{f.gqlError()})
		return
	}
	graphqlHTTP{}.run(w, r, mt, params, start, exec)
}

func hasPreflightHeader(r *http.Request) bool {
	for _, h := range preflightHeaders {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// readMultipart reads the operations, the map and the files, in that order (the spec's), and
// places each file where the map says. Files are kept in files, which the caller removes.
func readMultipart(r *http.Request, files *spooled) (*graphql.RawParams, *refusal) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, &refusal{code: apperr.BadRequest, message: "the multipart body could not be read"}
	}
	part, err := mr.NextPart()
	if err != nil {
		return nil, readRefusal(err, "the multipart body could not be read")
	}
	if part.FormName() != "operations" {
		return nil, &refusal{code: apperr.BadRequest, message: "the first part must be operations"}
	}
	body, f := readPart(part, maxRequestBytes, "operations")
	if f != nil {
		return nil, f
	}
	params := &graphql.RawParams{}
	if err := decodeJSON(bytes.NewReader(body), params); err != nil {
		return nil, &refusal{code: apperr.BadRequest, message: "operations must be one JSON object: {\"query\": …, \"variables\": {…}}"}
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		return nil, &refusal{code: apperr.BadRequest, message: "the request has no query"}
	}
	if part, err = mr.NextPart(); err != nil {
		return nil, readRefusal(err, "the second part must be map")
	}
	if part.FormName() != "map" {
		return nil, &refusal{code: apperr.BadRequest, message: "the second part must be map"}
	}
	if body, f = readPart(part, maxUploadMapBytes, "map"); f != nil {
		return nil, f
	}
	uploads := map[string][]string{}
	if err := json.Unmarshal(body, &uploads); err != nil {
		return nil, &refusal{code: apperr.BadRequest, message: "map must be a JSON object of file names to lists of variable paths"}
	}
	if len(uploads) > maxUploadFiles {
		return nil, &refusal{code: apperr.BadRequest, message: fmt.Sprintf("a request carries at most %d files", maxUploadFiles)}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, readRefusal(err, "the multipart body could not be read")
		}
		key := part.FormName()
		paths, ok := uploads[key]
		if !ok || len(paths) == 0 {
			return nil, &refusal{code: apperr.BadRequest, message: "a file part is not in map (or is sent twice)"}
		}
		delete(uploads, key)
		file, err := files.add(part)
		if err != nil {
			return nil, readRefusal(err, "a file could not be read")
		}
		for _, p := range paths {
			upload := graphql.Upload{File: file.reader(), Size: file.size, Filename: part.FileName(),
				ContentType: part.Header.Get("Content-Type")}
			if err := params.AddUpload(upload, key, p); err != nil {
				return nil, &refusal{code: apperr.BadRequest, message: "map names a variable path the operations do not have"}
			}
		}
	}
	if len(uploads) > 0 {
		return nil, &refusal{code: apperr.BadRequest, message: "map names a file the request does not send"}
	}
	return params, nil
}

// readPart reads a part of at most limit bytes.
func readPart(part io.Reader, limit int64, name string) ([]byte, *refusal) {
	body, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return nil, readRefusal(err, "the "+name+" part could not be read")
	}
	if int64(len(body)) > limit {
		return nil, &refusal{code: apperr.RequestTooLarge, message: fmt.Sprintf("the %s part is too large: the limit is %d bytes", name, limit)}
	}
	return body, nil
}

// readRefusal refuses a body that could not be read: over its limit (limitBody's reader), 413
// as for any request; otherwise malformed, 400.
func readRefusal(err error, message string) *refusal {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		f := tooLargeRefusal(tooLarge.Limit)
		return &f
	}
	return &refusal{code: apperr.BadRequest, message: message}
}

// spooled are a request's files: in memory up to uploadMemory each, in temporary files beyond.
type spooled struct{ files []*spooledFile }

type spooledFile struct {
	mem  []byte
	disk *os.File
	size int64
}

// reader reads the file from its start; each call returns a reader of its own (the map may
// send one file to several variables).
func (f *spooledFile) reader() io.ReadSeeker {
	if f.disk != nil {
		return io.NewSectionReader(f.disk, 0, f.size)
	}
	return bytes.NewReader(f.mem)
}

func (s *spooled) add(part io.Reader) (*spooledFile, error) {
	head, err := io.ReadAll(io.LimitReader(part, uploadMemory+1))
	if err != nil {
		return nil, err
	}
	f := &spooledFile{mem: head, size: int64(len(head))}
	s.files = append(s.files, f)
	if len(head) <= uploadMemory {
		return f, nil
	}
	tmp, err := os.CreateTemp("", "workingtracker-upload-*")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	f.disk, f.mem = tmp, nil
	n, err := io.Copy(tmp, io.MultiReader(bytes.NewReader(head), part))
	if err != nil {
		return nil, err
	}
	f.size = n
	return f, nil
}

func (s *spooled) remove() {
	for _, f := range s.files {
		if f.disk != nil {
			_ = f.disk.Close()
			_ = os.Remove(f.disk.Name())
		}
	}
}
