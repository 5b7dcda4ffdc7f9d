package imaging

// #cgo LDFLAGS: -ljpeg
// #include <stdlib.h>
// #include "codec.h"
import "C"

import (
	"fmt"
	"image"
	"unsafe"
)

// JPEG's pixel work is done by libjpeg-turbo (SIMD DCT and colour conversion, DCT-domain
// scaling): image/jpeg's decoder and encoder were two thirds of Process's time on a 1080p
// JPEG screenshot, libjpeg-turbo does the same in a sixth of it. It is the decoder browsers
// read untrusted JPEGs with; ours is Debian's (scripts/ensure-deps.sh installs
// libjpeg62-turbo-dev). Go keeps the header checks (Inspect, before anything is decoded), PNG
// and WebP (libpng was no faster than image/png on screenshots, and Go's decoders are
// memory-safe) and the resizing.

// errDimensions is a decoder finding other dimensions than the Go header parser did.
var errDimensions = fmt.Errorf("the image's dimensions differ from its header's")

// errUnsupported is a valid image in a colour space the C decoder does not convert.
var errUnsupported = fmt.Errorf("unsupported colour space")

func cBytes(b []byte) *C.uchar { return (*C.uchar)(unsafe.Pointer(unsafe.SliceData(b))) }

func codecErr(rc C.int, msg *C.char) error {
	switch rc {
	case C.WT_OK:
		return nil
	case C.WT_MISMATCH:
		return errDimensions
	case C.WT_UNSUPPORTED:
		return errUnsupported
	default:
		return fmt.Errorf("%s", C.GoString(msg))
	}
}

// scaledSize is the size libjpeg decodes a w x h image to at scale num/8 (rounding up).
func scaledSize(w, h, num int) (int, int) { return (w*num + 7) / 8, (h*num + 7) / 8 }

// decodeJPEGScaled decodes a w x h JPEG at num/8 of its size (num 1..8; the DCT does the
// scaling, so a 4K screenshot decodes at 1080p for a quarter of the work) into an opaque NRGBA.
func decodeJPEGScaled(data []byte, w, h, num int) (*image.NRGBA, error) {
	ow, oh := scaledSize(w, h, num)
	img := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	var msg [C.WT_MSG_LEN]C.char
	rc := C.wt_jpeg_decode(cBytes(data), C.size_t(len(data)), C.int(w), C.int(h), C.int(num),
		cBytes(img.Pix), C.int(ow), C.int(oh), C.int(img.Stride), &msg[0])
	if err := codecErr(rc, &msg[0]); err != nil {
		return nil, err
	}
	return img, nil
}

// compressJPEG encodes img's colour (its alpha ignored: flatten first) as a baseline JPEG of the
// given quality, 4:2:0, as image/jpeg did.
func compressJPEG(img *image.NRGBA, quality int) ([]byte, error) {
	b := img.Bounds()
	var out *C.uchar
	var n C.ulong
	var msg [C.WT_MSG_LEN]C.char
	rc := C.wt_jpeg_encode(cBytes(img.Pix), C.int(b.Dx()), C.int(b.Dy()), C.int(img.Stride),
		C.int(quality), &out, &n, &msg[0])
	if err := codecErr(rc, &msg[0]); err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}
