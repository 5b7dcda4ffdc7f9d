// C side of the cgo JPEG codec (codec.go), on libjpeg-turbo's libjpeg API. Every function
// reports failures through its return value and a message buffer of WT_MSG_LEN bytes; none
// keeps a pointer after it returns.
#ifndef WT_CODEC_H
#define WT_CODEC_H

#include <stddef.h>

#define WT_MSG_LEN 200

// The most scans a progressive JPEG may have: real encoders write about ten (libjpeg's simple
// progression) to a few dozen; each scan is a pass over the whole image.
#define WT_MAX_SCANS 100

// Results of the decoders.
enum {
	WT_OK = 0,
	WT_ERR = 1,         // corrupt or unsupported data: msg says why
	WT_MISMATCH = 2,    // the dimensions differ from those the caller expected
	WT_UNSUPPORTED = 3, // valid, but not a colour space this decoder converts (CMYK JPEG)
};

// wt_jpeg_decode decodes the JPEG in buf, scaled by scale_num/8 in the DCT domain (1..8),
// into out as RGBA (alpha 255), rows stride bytes apart. The image must be width x height
// before scaling and out_w x out_h after it. Warnings (a truncated file) are errors, and so is
// a progressive JPEG of more than WT_MAX_SCANS scans.
int wt_jpeg_decode(const unsigned char *buf, size_t len, int width, int height, int scale_num,
                   unsigned char *out, int out_w, int out_h, int stride, char *msg);

// wt_jpeg_encode encodes width x height RGBX pixels (the fourth byte ignored), rows stride
// bytes apart, as a baseline JPEG of the given quality with 4:2:0 chroma. *out is allocated
// with malloc (the caller frees it) and *out_len set to its length.
int wt_jpeg_encode(const unsigned char *pix, int width, int height, int stride, int quality,
                   unsigned char **out, unsigned long *out_len, char *msg);

#endif
