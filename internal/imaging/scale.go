package imaging

// #cgo LDFLAGS: -lyuv
// #include <libyuv/planar_functions.h>
// #include <libyuv/scale.h>
// #include <libyuv/scale_argb.h>
import "C"

import (
	"fmt"
	"image"
)

// Enlarging is done by libyuv (Chromium's scaler; Debian's libyuv-dev, installed by
// scripts/ensure-deps.sh): its SIMD bilinear ARGBScale enlarges blur's reduced image back to
// 1920x1080 in a fraction of what disintegration/imaging's Linear filter took (float weights
// per pixel, 20 ms), or golang.org/x/image/draw's BiLinear (26 ms) and ApproxBiLinear (50 ms).
// Reducing by a whole factor (the thumbnail: 1920 to 320) is libyuv's box filter, an area
// average, per colour plane: its ARGBScale has no true box filter (it point-samples 2x2 boxes),
// its ScalePlane does. Splitting and merging the planes is SIMD too; the three passes take a
// few ms where disintegration/imaging's Box took 10 to 20. The four channels are scaled alike, so RGBA bytes go through its "ARGB" unchanged.

// enlarge resizes the opaque img up to w x h with libyuv's bilinear filter.
func enlarge(img *image.NRGBA, w, h int) (*image.NRGBA, error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || w <= 0 || h <= 0 {
		return nil, fmt.Errorf("enlarge %dx%d to %dx%d", b.Dx(), b.Dy(), w, h)
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	rc := C.ARGBScale(cBytes(img.Pix[img.PixOffset(b.Min.X, b.Min.Y):]), C.int(img.Stride), C.int(b.Dx()), C.int(b.Dy()),
		cBytes(dst.Pix), C.int(dst.Stride), C.int(w), C.int(h), C.kFilterBilinear)
	if rc != 0 {
		return nil, fmt.Errorf("libyuv ARGBScale %dx%d to %dx%d: %d", b.Dx(), b.Dy(), w, h, int(rc))
	}
	return dst, nil
}

// boxShrink reduces the opaque img to w x h (a whole factor smaller) with libyuv's box filter,
// an area average of each colour plane; alpha comes back opaque.
func boxShrink(img *image.NRGBA, w, h int) *image.NRGBA {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	planes := make([]byte, 3*sw*sh+3*w*h)
	src := [3][]byte{planes[:sw*sh], planes[sw*sh : 2*sw*sh], planes[2*sw*sh : 3*sw*sh]}
	small := planes[3*sw*sh:]
	dst := [3][]byte{small[:w*h], small[w*h : 2*w*h], small[2*w*h:]}
	C.SplitARGBPlane(cBytes(img.Pix[img.PixOffset(b.Min.X, b.Min.Y):]), C.int(img.Stride),
		cBytes(src[0]), C.int(sw), cBytes(src[1]), C.int(sw), cBytes(src[2]), C.int(sw), nil, 0, C.int(sw), C.int(sh))
	for i := range src {
		C.ScalePlane(cBytes(src[i]), C.int(sw), C.int(sw), C.int(sh), cBytes(dst[i]), C.int(w), C.int(w), C.int(h), C.kFilterBox)
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	C.MergeARGBPlane(cBytes(dst[0]), C.int(w), cBytes(dst[1]), C.int(w), cBytes(dst[2]), C.int(w), nil, 0,
		cBytes(out.Pix), C.int(out.Stride), C.int(w), C.int(h))
	return out
}
