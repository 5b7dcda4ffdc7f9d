package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// cmykJPEG is a 16x8 CMYK JPEG (yellow left half, red right half as image/jpeg reads it), made
// with libjpeg: image/jpeg has no CMYK encoder.
var cmykJPEG = mustB64("/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwADAgIDAgIDAwMDBAMDBAUIBQUEBAUKBwcGCAwKDAwLCgsLDQ4SEA0OEQ4LCxAWEBETFBUVFQwPFxgWFBgSFBUU/8AAFAgACAAQBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwD9U6/VOvyqr9U6K/lXoor/2Q==")

// TestProcessJPEGMatchesPNG: the same picture in as JPEG (decoded by libjpeg-turbo, at a DCT
// scale when it is larger than the box) and as PNG (image/png, resized) comes out the same to
// within JPEG's loss, in size and in pixels (a few levels of 255 on average, most of it the
// noisy panel's chroma; red and blue swapped is 13 or more, a shifted or mis-scaled decode more).
func TestProcessJPEGMatchesPNG(t *testing.T) {
	t.Parallel()
	opts := ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels}
	// Strips, so that -race stays quick: the scale only depends on how far over the box it is.
	for name, size := range map[string]image.Point{
		"fits, no scaling":     {640, 120},
		"wide, DCT scale 7/8":  {2400, 64},
		"twice too wide, 4/8":  {3840, 48},
		"tall, DCT scale 5/8":  {64, 2000},
		"odd sizes, scale 7/8": {2001, 37},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			img := desktop(size.X, size.Y, 8)
			fromPNG, err := Process(encodePNG(t, img), opts)
			require.NoError(t, err)
			fromJPEG, err := Process(encodeJPEG(t, img), opts)
			require.NoError(t, err)
			require.Equal(t, fromPNG.Source.Width, fromJPEG.Source.Width)
			for kind, pair := range map[string][2]Encoded{"image": {fromPNG.Image, fromJPEG.Image}, "thumbnail": {fromPNG.Thumbnail, fromJPEG.Thumbnail}} {
				require.Equal(t, [2]int{pair[0].Width, pair[0].Height}, [2]int{pair[1].Width, pair[1].Height}, kind)
				diff := meanAbsDiff(decodeJPEG(t, pair[0].JPEG), decodeJPEG(t, pair[1].JPEG))
				require.Less(t, diff, 8.0, "%s: JPEG and PNG input differ by %.2f on average", kind, diff)
			}
		})
	}
}

// TestProcessRefusesTruncatedJPEG: libjpeg-turbo would fill a truncated JPEG with grey and warn;
// Process refuses it, as image/jpeg did.
func TestProcessRefusesTruncatedJPEG(t *testing.T) {
	t.Parallel()
	data := encodeJPEG(t, screenshot(200, 150, 9))
	opts := ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels}
	for name, cut := range map[string][]byte{
		"half the body": data[:len(data)/2],
		"no EOI marker": data[:len(data)-2],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Process(cut, opts)
			requireRefused(t, err)
		})
	}
	// A body that is not entropy-coded data at all.
	garbled := bytes.Clone(data)
	for i := len(garbled) / 3; i < len(garbled)-2; i++ {
		garbled[i] = 0xff
	}
	_, err := Process(garbled, opts)
	requireRefused(t, err)
}

// TestProcessJPEGColourSpaces: greyscale JPEGs go through libjpeg-turbo too; CMYK, which it
// does not convert to RGB, through image/jpeg.
func TestProcessJPEGColourSpaces(t *testing.T) {
	t.Parallel()
	opts := ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels}

	gray := image.NewGray(image.Rect(0, 0, 64, 32))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i % 64 * 4)
	}
	res, err := Process(encodeJPEG(t, gray), opts)
	require.NoError(t, err)
	require.Less(t, meanAbsDiff(gray, decodeJPEG(t, res.Image.JPEG)), 3.0)

	want, err := jpeg.Decode(bytes.NewReader(cmykJPEG))
	require.NoError(t, err)
	require.IsType(t, &image.CMYK{}, want)
	res, err = Process(cmykJPEG, opts)
	require.NoError(t, err)
	require.Equal(t, [2]int{16, 8}, [2]int{res.Image.Width, res.Image.Height})
	require.Less(t, meanAbsDiff(want, decodeJPEG(t, res.Image.JPEG)), 8.0)
}

// TestProcessFlattensOntoWhite: JPEG has no alpha; transparent pixels come out white, not black,
// and half-transparent ones halfway.
func TestProcessFlattensOntoWhite(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			c := color.NRGBA{0, 0, 0, 0} // transparent left
			if x >= 32 {
				c = color.NRGBA{0, 0, 0, 128} // half-transparent black right
			}
			img.SetNRGBA(x, y, c)
		}
	}
	res, err := Process(encodePNG(t, img), ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels})
	require.NoError(t, err)
	out := decodeJPEG(t, res.Image.JPEG)
	r, g, b, _ := out.At(8, 16).RGBA()
	require.InDelta(t, 255, r>>8, 3)
	require.InDelta(t, 255, g>>8, 3)
	require.InDelta(t, 255, b>>8, 3)
	r, _, _, _ = out.At(56, 16).RGBA()
	require.InDelta(t, 127, r>>8, 4)
}

// TestProcessRefusesJPEGWithTooManyScans: a progressive JPEG's every scan is a pass over the
// whole image, so a small file of hundreds of scans (testdata: 631, every AC coefficient alone and
// refined bit by bit, made with libjpeg's scan scripts) would hold a worker for minutes at
// screenshot sizes. It is refused as corrupt; an ordinary progressive JPEG (libjpeg's simple
// progression, 6 scans for grey) still decodes.
func TestProcessRefusesJPEGWithTooManyScans(t *testing.T) {
	t.Parallel()
	opts := ProcessOpts{MaxBytes: testMaxBytes, MaxPixels: testMaxPixels}
	many, err := os.ReadFile("testdata/progressive-631-scans.jpg")
	require.NoError(t, err)
	_, err = Process(many, opts)
	requireRefused(t, err)
	require.ErrorContains(t, err, "more than 100 scans")

	ordinary, err := os.ReadFile("testdata/progressive-10-scans.jpg")
	require.NoError(t, err)
	res, err := Process(ordinary, opts)
	require.NoError(t, err)
	require.Equal(t, 64, res.Source.Width)
}
