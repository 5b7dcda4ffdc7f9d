package imaging

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apperr"
)

const (
	testMaxBytes  = 10 << 20
	testMaxPixels = 40_000_000
)

// Tiny WebP images (1x1), lossless and lossy: x/image has no WebP encoder.
var (
	webpLossless = mustB64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	webpLossy    = mustB64("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
)

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// screenshot draws a w x h image with text-like detail: stripes, a gradient and some noise
// (seeded, so every run draws the same).
func screenshot(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, seed))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			r, g, b := uint8(x*255/w), uint8(y*255/h), uint8(200)
			if (x/3+y/5)%4 == 0 { // glyph-sized strokes
				r, g, b = 10, 10, 10
			}
			n := uint8(rng.Uint32() % 24)
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = r^n, g^n, b^n, 255
		}
	}
	return img
}

// encodePNG stores img uncompressed: deflate is most of a test's time under -race.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	return encodePNGLevel(t, img, png.NoCompression)
}

func encodePNGLevel(t testing.TB, img image.Image, level png.CompressionLevel) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, (&png.Encoder{CompressionLevel: level}).Encode(&buf, img))
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

// bombPNG is a valid PNG signature and IHDR declaring w x h (8-bit RGBA) with a correct CRC,
// followed by nothing: a decoder that trusted it would allocate w*h*4 bytes.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // bit depth 8, colour type RGBA; compression, filter, interlace 0
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func requireRefused(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, apperr.BadUserInput, ae.Code)
	require.Equal(t, "file", ae.Field)
	require.NotEmpty(t, ae.Message)
}

func TestInspectIdentifiesByContent(t *testing.T) {
	t.Parallel()
	img := screenshot(64, 48, 1)
	for name, tc := range map[string]struct {
		data []byte
		want Info
	}{
		"png":           {encodePNG(t, img), Info{PNG, 64, 48}},
		"jpeg":          {encodeJPEG(t, img), Info{JPEG, 64, 48}},
		"webp lossless": {webpLossless, Info{WebP, 1, 1}},
		"webp lossy":    {webpLossy, Info{WebP, 1, 1}},
	} {
		t.Run(name, func(t *testing.T) {
			info, err := Inspect(bytes.NewReader(tc.data), testMaxBytes, testMaxPixels)
			require.NoError(t, err)
			require.Equal(t, tc.want, info)
		})
	}
}

func TestInspectRefuses(t *testing.T) {
	t.Parallel()
	pngData := encodePNG(t, screenshot(64, 48, 1))
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	for name, tc := range map[string]struct {
		data               []byte
		maxBytes, maxPixel int64
	}{
		"garbage":            {[]byte("this is not an image, whatever its name says"), testMaxBytes, testMaxPixels},
		"empty":              {nil, testMaxBytes, testMaxPixels},
		"gif (not accepted)": {gif, testMaxBytes, testMaxPixels},
		"truncated png":      {pngData[:20], testMaxBytes, testMaxPixels},
		"signature only":     {pngData[:8], testMaxBytes, testMaxPixels},
		"zero width":         {bombPNG(0, 10), testMaxBytes, testMaxPixels},
		"over max bytes":     {pngData, int64(len(pngData)) - 1, testMaxPixels},
		"over max pixels":    {pngData, testMaxBytes, 64*48 - 1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Inspect(bytes.NewReader(tc.data), tc.maxBytes, tc.maxPixel)
			requireRefused(t, err)
			_, err = Process(tc.data, ProcessOpts{MaxBytes: tc.maxBytes, MaxPixels: tc.maxPixel})
			requireRefused(t, err)
		})
	}
	// Exactly at the limits is accepted.
	_, err := Inspect(bytes.NewReader(pngData), int64(len(pngData)), 64*48)
	require.NoError(t, err)
}

// TestInspectRefusesDecompressionBomb: a PNG header declaring 50,000 x 50,000 (10 GB of RGBA)
// is refused from its header alone, allocating next to nothing. Not parallel (the other tests
// wait for it): it measures the process's allocations.
func TestInspectRefusesDecompressionBomb(t *testing.T) {
	bomb := bombPNG(50_000, 50_000)
	// The header itself is valid: only the pixel limit refuses it.
	cfg, err := png.DecodeConfig(bytes.NewReader(bomb))
	require.NoError(t, err)
	require.Equal(t, 50_000, cfg.Width)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = Inspect(bytes.NewReader(bomb), testMaxBytes, testMaxPixels)
	runtime.ReadMemStats(&after)
	requireRefused(t, err)
	require.Contains(t, err.Error(), "50000x50000")
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(1<<20), "Inspect allocated %d bytes for a bomb's header", allocated)

	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = Process(bomb, ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels})
	runtime.ReadMemStats(&after)
	requireRefused(t, err)
	allocated = after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(1<<20), "Process allocated %d bytes for a bomb's header", allocated)
}

func decodeJPEG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, "jpeg", format)
	return img
}

func TestProcessSizes(t *testing.T) {
	t.Parallel()
	opts := ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels}
	for name, tc := range map[string]struct {
		w, h               int
		wantW, wantH       int
		wantThumbW, thumbH int
	}{
		"wide, shrunk to the width":    {2400, 900, 1920, 720, 320, 120},
		"tall, shrunk to the height":   {1000, 2000, 540, 1080, 320, 640},
		"small, never upscaled":        {640, 480, 640, 480, 320, 240},
		"tiny, thumbnail not upscaled": {100, 50, 100, 50, 100, 50},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Process(encodePNG(t, screenshot(tc.w, tc.h, 2)), opts)
			require.NoError(t, err)
			require.Equal(t, Info{PNG, tc.w, tc.h}, res.Source)
			require.Equal(t, [2]int{tc.wantW, tc.wantH}, [2]int{res.Image.Width, res.Image.Height})
			require.Equal(t, [2]int{tc.wantThumbW, tc.thumbH}, [2]int{res.Thumbnail.Width, res.Thumbnail.Height})
			for _, e := range []Encoded{res.Image, res.Thumbnail} {
				img := decodeJPEG(t, e.JPEG)
				require.Equal(t, image.Pt(e.Width, e.Height), img.Bounds().Size())
				require.Equal(t, len(e.JPEG), e.Size())
			}
		})
	}
}

func TestProcessFormats(t *testing.T) {
	t.Parallel()
	opts := ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels}
	img := screenshot(200, 150, 3)
	for name, data := range map[string][]byte{"png": encodePNG(t, img), "jpeg": encodeJPEG(t, img), "webp": webpLossless} {
		t.Run(name, func(t *testing.T) {
			res, err := Process(data, opts)
			require.NoError(t, err)
			decodeJPEG(t, res.Image.JPEG)
			decodeJPEG(t, res.Thumbnail.JPEG)
		})
	}
	// A valid header over a corrupt body: refused as the user's fault, not an internal error.
	corrupt := encodePNG(t, img)
	corrupt = corrupt[:len(corrupt)/2]
	_, err := Process(corrupt, opts)
	requireRefused(t, err)
}

// meanAbsDiff is the mean absolute difference of the two images' red, green and blue.
func meanAbsDiff(a, b image.Image) float64 {
	var sum, n float64
	bounds := a.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				sum += float64(max(d, -d))
				n++
			}
		}
	}
	return sum / n
}

// localContrast is the mean absolute difference between horizontally adjacent pixels' green:
// high where there are strokes (text), near zero once blurred.
func localContrast(img image.Image) float64 {
	var sum, n float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X + 1; x < b.Max.X; x++ {
			_, g1, _, _ := img.At(x-1, y).RGBA()
			_, g2, _, _ := img.At(x, y).RGBA()
			d := int(g1>>8) - int(g2>>8)
			sum += float64(max(d, -d))
			n++
		}
	}
	return sum / n
}

func TestProcessBlur(t *testing.T) {
	t.Parallel()
	data := encodePNG(t, screenshot(480, 270, 4))
	plain, err := Process(data, ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels})
	require.NoError(t, err)
	blurred, err := Process(data, ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels, Blur: true})
	require.NoError(t, err)
	require.Equal(t, plain.Image.Width, blurred.Image.Width)
	require.Equal(t, plain.Thumbnail.Height, blurred.Thumbnail.Height)

	for name, pair := range map[string][2]Encoded{"image": {plain.Image, blurred.Image}, "thumbnail": {plain.Thumbnail, blurred.Thumbnail}} {
		p, b := decodeJPEG(t, pair[0].JPEG), decodeJPEG(t, pair[1].JPEG)
		require.Greater(t, meanAbsDiff(p, b), 10.0, "%s: blur barely changed the pixels", name)
		// The strokes are gone: neighbours differ by a fraction of what they did.
		require.Less(t, localContrast(b), localContrast(p)/5, "%s: blur left the detail readable", name)
	}
}

func TestProcessIsDeterministic(t *testing.T) {
	t.Parallel()
	// 2000x60 blurs at its own size; 640x360 goes through libyuv's box reduction and enlargement.
	for _, data := range [][]byte{encodeJPEG(t, screenshot(2000, 60, 5)), encodePNG(t, screenshot(640, 360, 5))} {
		for _, blur := range []bool{false, true} {
			opts := ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels, Blur: blur}
			first, err := Process(data, opts)
			require.NoError(t, err)
			second, err := Process(data, opts)
			require.NoError(t, err)
			require.Equal(t, first, second, "blur=%v", blur)
		}
	}
}

// desktop draws a w x h screenshot as the agent takes them: a title bar with a gradient, a window
// whose background fades slightly from top to bottom, a flat sidebar, lines of glyph-sized strokes
// of random lengths, and a noisy "photo" panel (a quarter of the width, half the height) so that
// neither codec has it too easy.
func desktop(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, seed))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(250 - 12*y/h), uint8(250 - 8*y/h), 250, 255}
			switch {
			case y < h/36: // title bar
				c = color.NRGBA{uint8(30 + 60*x/w), uint8(60 + 80*x/w), uint8(120 + 100*x/w), 255}
			case x < w/8:
				c = color.NRGBA{40, 44, 52, 255}
			case x > w*5/8 && x < w*7/8 && y > h/4 && y < h*3/4:
				c = color.NRGBA{uint8(rng.IntN(256)), uint8(x), uint8(y), 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	for line := 24; line+14 < h; line += 22 { // text: strokes 2 px wide, 6 to 12 px tall
		for x := w/8 + 16; x < w*5/8-8; x += 3 + rng.IntN(5) {
			if rng.IntN(6) == 0 {
				x += 8 // a space
				continue
			}
			top := line + rng.IntN(6)
			for y := top; y < line+12; y++ {
				img.SetNRGBA(x, y, color.NRGBA{20, 20, 20, 255})
				img.SetNRGBA(x+1, y, color.NRGBA{20, 20, 20, 255})
			}
		}
	}
	return img
}

// BenchmarkProcess measures images in per second: "desktop" is a 1080p screenshot-like image,
// "noise" adds noise to every pixel (a worst case, like a full-screen photo), "desktop4k" is the
// desktop drawn at 3840x2160 (a HiDPI screen). images/s is wall time; images/cpu-s divides by the
// process's CPU time, steadier on a shared machine. Per core: run with -cpu 1 (GOMAXPROCS=1),
//
//	go test -run '^$' -bench BenchmarkProcess -cpu 1 -benchmem -count 5 ./internal/imaging/
func BenchmarkProcess(b *testing.B) {
	desk, noise := desktop(1920, 1080, 6), screenshot(1920, 1080, 6)
	type bench struct {
		name string
		data []byte
		blur bool
	}
	var benches []bench
	for _, src := range []struct {
		name string
		img  image.Image
	}{{"desktop", desk}, {"noise", noise}} {
		for _, blur := range []bool{false, true} {
			suffix := ""
			if blur {
				suffix = "-blur"
			}
			benches = append(benches,
				bench{src.name + "-jpeg" + suffix, encodeJPEG(b, src.img), blur},
				bench{src.name + "-png" + suffix, encodePNGLevel(b, src.img, png.DefaultCompression), blur})
		}
	}
	desk4k := desktop(3840, 2160, 7)
	benches = append(benches,
		bench{"desktop4k-jpeg", encodeJPEG(b, desk4k), false},
		bench{"desktop4k-png", encodePNGLevel(b, desk4k, png.DefaultCompression), false})
	for _, tc := range benches {
		b.Run(tc.name, func(b *testing.B) {
			opts := ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels, Blur: tc.blur}
			b.SetBytes(int64(len(tc.data)))
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				if _, err := Process(tc.data, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(float64(b.N)/(cpuTime(b)-cpu).Seconds(), "images/cpu-s")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
