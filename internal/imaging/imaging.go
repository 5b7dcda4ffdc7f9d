// Package imaging owns what the server does to an uploaded image: identifying it by its content
// (PNG, JPEG, WebP; never by name or declared type), refusing what it will not decode (unknown
// formats, truncated headers, bodies or pixel counts over the limits, decompression bombs) before
// any pixel is allocated, and turning an accepted image into the stored results: a copy that fits
// 1920x1080, a 320 px wide thumbnail, both optionally blurred, both re-encoded as JPEG.
//
// It knows nothing of HTTP, storage or jobs: the upload resolver calls Inspect on the request's
// file, the processing job calls Process on the stored original. Refusals are *apperr.Error with
// code BAD_USER_INPUT and Field "file"; anything else is an internal fault.
//
// The formats are an explicit table, not the image package's global registry: any package in the
// binary may register decoders there (disintegration/imaging brings GIF, BMP and TIFF), and what
// an upload may be must not change because of an import elsewhere.
package imaging

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"

	"github.com/workingtracker/api/internal/apperr"
)

// Format names an accepted image format.
type Format string

// Accepted formats.
const (
	PNG  Format = "png"
	JPEG Format = "jpeg"
	WebP Format = "webp"
)

// Info is what Inspect learns from an image's header.
type Info struct {
	Format Format
	Width  int
	Height int
}

// Pixels is Width*Height.
func (i Info) Pixels() int64 { return int64(i.Width) * int64(i.Height) }

type codec struct {
	format       Format
	matches      func(head []byte) bool
	decodeConfig func(io.Reader) (image.Config, error)
	// decode decodes data, whose header said info, into an NRGBA of info's size, or smaller
	// but never below fit (the size Process makes of it) when the decoder scales for less.
	decode func(data []byte, info Info, fit image.Point) (*image.NRGBA, error)
}

var codecs = []codec{
	{PNG, func(h []byte) bool { return bytes.HasPrefix(h, []byte("\x89PNG\r\n\x1a\n")) }, png.DecodeConfig, goDecoder(png.Decode)},
	{JPEG, func(h []byte) bool { return bytes.HasPrefix(h, []byte("\xff\xd8\xff")) }, jpeg.DecodeConfig, decodeJPEGToNRGBA},
	{WebP, func(h []byte) bool {
		return len(h) >= 12 && string(h[0:4]) == "RIFF" && string(h[8:12]) == "WEBP"
	}, webp.DecodeConfig, goDecoder(webp.Decode)},
}

// goDecoder adapts a pure-Go decoder: its image is converted to NRGBA unless it is one.
func goDecoder(decode func(io.Reader) (image.Image, error)) func([]byte, Info, image.Point) (*image.NRGBA, error) {
	return func(data []byte, info Info, _ image.Point) (*image.NRGBA, error) {
		img, err := decode(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if img.Bounds() != image.Rect(0, 0, info.Width, info.Height) {
			return nil, errDimensions
		}
		switch m := img.(type) {
		case *image.NRGBA:
			return m, nil
		case *image.RGBA: // image/png's truecolour without alpha: opaque, so the same bytes as NRGBA
			if m.Opaque() {
				return &image.NRGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}, nil
			}
		}
		return imaging.Clone(img), nil
	}
}

// decodeJPEGToNRGBA decodes with libjpeg-turbo, at the smallest of its DCT scales (n/8) that is
// no smaller than fit: a 4K screenshot decodes at 1080p, skipping most of the inverse DCT and
// all of the resizing. image/jpeg reads what libjpeg-turbo does not convert (CMYK).
func decodeJPEGToNRGBA(data []byte, info Info, fit image.Point) (*image.NRGBA, error) {
	num := 8
	for num > 1 {
		if w, h := scaledSize(info.Width, info.Height, num-1); w < fit.X || h < fit.Y {
			break
		}
		num--
	}
	img, err := decodeJPEGScaled(data, info.Width, info.Height, num)
	if errors.Is(err, errUnsupported) {
		return goDecoder(jpeg.Decode)(data, info, image.Point{})
	}
	return img, err
}

// sniffLen is how many leading bytes identify a format.
const sniffLen = 12

func invalid(format string, args ...any) error { return apperr.Invalid("file", format, args...) }

// header identifies r's format by its leading bytes and reads its header's dimensions, without
// decoding pixels. It refuses unknown formats, unreadable or truncated headers, zero dimensions
// and images over maxPixels. The returned codec decodes the rest of br.
func header(br *bufio.Reader, maxPixels int64) (Info, codec, error) {
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return Info{}, codec{}, fmt.Errorf("read image header: %w", err)
	}
	var c codec
	for _, cand := range codecs {
		if cand.matches(head) {
			c = cand
			break
		}
	}
	if c.format == "" {
		return Info{}, codec{}, invalid("the file is not a PNG, JPEG or WebP image")
	}
	cfg, err := c.decodeConfig(br)
	if err != nil {
		return Info{}, codec{}, invalid("the file is not a valid %s image (unreadable or truncated header)", c.format)
	}
	info := Info{Format: c.format, Width: cfg.Width, Height: cfg.Height}
	if info.Width <= 0 || info.Height <= 0 {
		return Info{}, codec{}, invalid("the image has no pixels (%dx%d)", info.Width, info.Height)
	}
	if info.Pixels() > maxPixels {
		return Info{}, codec{}, invalid("the image is %dx%d, more than the %d pixels allowed", info.Width, info.Height, maxPixels)
	}
	return info, c, nil
}

// Inspect identifies the image in r by its content and reads its dimensions from its header,
// without decoding its pixels, so that a decompression bomb (a few KB declaring 50,000 x 50,000)
// costs nothing. It refuses, with BAD_USER_INPUT on field "file": a format other than PNG, JPEG or
// WebP, an unreadable or truncated header, zero dimensions, more than maxPixels pixels, and a body
// over maxBytes. It reads r to its end (at most maxBytes+1 bytes) to measure it; a caller that
// keeps the bytes reads them through an io.TeeReader. Only the header is held in memory.
func Inspect(r io.Reader, maxBytes, maxPixels int64) (Info, error) {
	cr := &countingReader{r: io.LimitReader(r, maxBytes+1)}
	br := bufio.NewReaderSize(cr, 4096)
	info, _, err := header(br, maxPixels)
	if err != nil {
		return Info{}, err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return Info{}, fmt.Errorf("read image: %w", err)
	}
	if cr.n > maxBytes {
		return Info{}, invalid("the file is larger than %d bytes", maxBytes)
	}
	return info, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Output limits and encoding of Process.
const (
	MaxWidth       = 1920
	MaxHeight      = 1080
	ThumbnailWidth = 320
	JPEGQuality    = 80
)

// ProcessOpts configures Process.
type ProcessOpts struct {
	// MaxBytes and MaxPixels are Inspect's limits, checked again before decoding (the stored
	// original was inspected at upload, but the job trusts nothing it reads back).
	MaxBytes  int64
	MaxPixels int64
	// Blur blurs both results beyond reading any text (the tenant's privacy setting).
	Blur bool
}

// Encoded is one JPEG result of Process.
type Encoded struct {
	JPEG   []byte
	Width  int
	Height int
}

// Size is the encoded size in bytes.
func (e Encoded) Size() int { return len(e.JPEG) }

// Result is what Process makes of an image.
type Result struct {
	Source    Info
	Image     Encoded
	Thumbnail Encoded
}

// Process decodes data (after Inspect's checks, with opts' limits), resizes it to fit
// MaxWidth x MaxHeight keeping its aspect ratio, makes a thumbnail ThumbnailWidth wide, blurs
// both when opts.Blur, and encodes both as JPEG (JPEGQuality). Neither is ever upscaled: an image
// narrower than ThumbnailWidth keeps its width in the thumbnail too. Output is a function of
// data and opts alone (same bytes every run), so a job that runs twice writes the same result.
// Refusals are BAD_USER_INPUT on field "file", as Inspect's; a file that passes the header
// checks but fails to decode is refused the same way.
func Process(data []byte, opts ProcessOpts) (Result, error) {
	if int64(len(data)) > opts.MaxBytes {
		return Result{}, invalid("the file is larger than %d bytes", opts.MaxBytes)
	}
	br := bufio.NewReader(bytes.NewReader(data))
	info, c, err := header(br, opts.MaxPixels)
	if err != nil {
		return Result{}, err
	}
	fw, fh := fitSize(info.Width, info.Height, MaxWidth, MaxHeight)
	src, err := c.decode(data, info, image.Pt(fw, fh))
	if errors.Is(err, errDimensions) {
		return Result{}, invalid("the %s image's pixels do not match its header", c.format)
	}
	if err != nil {
		return Result{}, invalid("the %s image cannot be decoded: %v", c.format, err)
	}
	flatten(src)

	// Neither is ever upscaled; the thumbnail is made from the fitted image, not the original.
	full := shrink(src, fw, fh)
	tw := min(ThumbnailWidth, fw)
	thumb := shrink(full, tw, max(1, int(math.Round(float64(fh)*float64(tw)/float64(fw)))))
	if opts.Blur {
		if full, thumb, err = blur(full, thumb); err != nil {
			return Result{}, err
		}
	}
	res := Result{Source: info}
	if res.Image, err = encode(full); err != nil {
		return Result{}, err
	}
	if res.Thumbnail, err = encode(thumb); err != nil {
		return Result{}, err
	}
	return res, nil
}

// fitSize is the size of a w x h image fitted within maxW x maxH, keeping its aspect ratio (as
// imaging.Fit rounds it), or w x h if it fits already.
func fitSize(w, h, maxW, maxH int) (int, int) {
	if w <= maxW && h <= maxH {
		return w, h
	}
	aspect := float64(w) / float64(h)
	if aspect > float64(maxW)/float64(maxH) {
		return maxW, max(1, int(math.Round(float64(maxW)/aspect)))
	}
	return max(1, int(math.Round(float64(maxH)*aspect))), maxH
}

// shrink resizes the opaque img down to w x h (img itself when it is that size already): first
// a box filter by the largest whole factor that stays at or above w x h, which is an exact area
// average (every source pixel weighs the same, nothing aliases; libyuv's, see boxShrink), then
// Lanczos for what is left, if anything (1920 to 320 is a factor of 6: box alone).
func shrink(img *image.NRGBA, w, h int) *image.NRGBA {
	b := img.Bounds()
	if k := min(b.Dx()/w, b.Dy()/h); k >= 2 {
		img = boxShrink(img, b.Dx()/k, b.Dy()/k)
	}
	if b = img.Bounds(); b.Dx() != w || b.Dy() != h {
		img = imaging.Resize(img, w, h, imaging.Lanczos)
	}
	return img
}

// blurDivisor sets the blur's strength: a Gaussian whose sigma is the image's width divided by
// it (about 19 px on a 1920 px screenshot), far wider than a glyph of any readable text.
const blurDivisor = 100

// blurScale is how much blur works below full resolution: a Gaussian of sigma s at full size is
// close to one of s/blurScale on an image shrunk blurScale times and enlarged back, and costs
// blurScale² times less (a sigma-19 kernel over 2 MP directly takes seconds).
const blurScale = 8

// blur blurs full and thumb, a smaller copy of it. Both are enlarged from one reduced copy,
// made from thumb (less work than from full: 8 ms of 30 on a 1080p image) and blurred once with
// a sigma of full's width / blurDivisor / blurScale: enlarged to the thumbnail's size, that is
// the thumbnail's width / blurDivisor as well, so both are blurred alike. Enlarging is libyuv's
// bilinear scaler (see enlarge). An image too small to reduce is blurred at its own size.
func blur(full, thumb *image.NRGBA) (*image.NRGBA, *image.NRGBA, error) {
	w, h := full.Bounds().Dx(), full.Bounds().Dy()
	if w < 8*blurScale || h < 8*blurScale {
		tw := thumb.Bounds().Dx()
		return imaging.Blur(full, max(float64(w)/blurDivisor, 2)), imaging.Blur(thumb, max(float64(tw)/blurDivisor, 2)), nil
	}
	small := shrink(thumb, w/blurScale, h/blurScale)
	small = imaging.Blur(small, float64(w)/blurDivisor/blurScale)
	full, err := enlarge(small, w, h)
	if err != nil {
		return nil, nil, err
	}
	if thumb, err = enlarge(small, thumb.Bounds().Dx(), thumb.Bounds().Dy()); err != nil {
		return nil, nil, err
	}
	return full, thumb, nil
}

// encode encodes an opaque img (flattened) as JPEG.
func encode(img *image.NRGBA) (Encoded, error) {
	data, err := compressJPEG(img, JPEGQuality)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode jpeg: %w", err)
	}
	b := img.Bounds()
	return Encoded{JPEG: data, Width: b.Dx(), Height: b.Dy()}, nil
}

// flatten lays img over white, in place: JPEG has no alpha (transparent pixels would turn
// black). Doing it before resizing is the same as after (compositing over a constant commutes
// with the filters' weighted sums) and lets everything after it ignore alpha.
func flatten(img *image.NRGBA) {
	p := img.Pix
	for i := 0; i+3 < len(p); i += 4 {
		if a := uint32(p[i+3]); a != 0xff {
			// white*(1-a) + c*a, in 8 bits: c*a/255 + 255 - a.
			p[i] = uint8((uint32(p[i])*a+127)/255 + 255 - a)
			p[i+1] = uint8((uint32(p[i+1])*a+127)/255 + 255 - a)
			p[i+2] = uint8((uint32(p[i+2])*a+127)/255 + 255 - a)
			p[i+3] = 0xff
		}
	}
}
