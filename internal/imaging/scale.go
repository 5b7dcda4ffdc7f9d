package imaging

// #cgo LDFLAGS: -lyuv
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
// The four channels are scaled alike, so RGBA bytes go through its "ARGB" unchanged.

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
