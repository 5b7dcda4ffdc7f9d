#include "codec.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// libjpeg reports errors through error_exit, which must not return: it jumps back to the
// function that started the work, which cleans up and returns WT_ERR.
struct wt_jpeg_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char *msg;
};

static void wt_jpeg_error_exit(j_common_ptr cinfo) {
	struct wt_jpeg_err *e = (struct wt_jpeg_err *)cinfo->err;
	char buf[JMSG_LENGTH_MAX];
	(*cinfo->err->format_message)(cinfo, buf);
	snprintf(e->msg, WT_MSG_LEN, "%s", buf);
	longjmp(e->jump, 1);
}

// A warning (level -1: corrupt data libjpeg would paper over, such as a premature end of
// file) is an error here; trace messages (level >= 0) are ignored.
static void wt_jpeg_emit_message(j_common_ptr cinfo, int level) {
	if (level < 0) {
		wt_jpeg_error_exit(cinfo);
	}
}

static void wt_jpeg_init_err(struct wt_jpeg_err *e, char *msg) {
	jpeg_std_error(&e->pub);
	e->pub.error_exit = wt_jpeg_error_exit;
	e->pub.emit_message = wt_jpeg_emit_message;
	e->msg = msg;
}

// A progressive JPEG may hold any number of scans, each a pass over the whole image's
// coefficients: a small file of thousands of scans would keep a worker decoding for minutes
// (libjpeg-turbo's own advice is to cap them, as djpeg -maxscans and TJPARAM_SCANLIMIT do).
// libjpeg calls the progress monitor as it consumes the input, once per scan at least.
static void wt_jpeg_progress(j_common_ptr cinfo) {
	j_decompress_ptr d = (j_decompress_ptr)cinfo;
	if (d->input_scan_number > WT_MAX_SCANS) {
		struct wt_jpeg_err *e = (struct wt_jpeg_err *)cinfo->err;
		snprintf(e->msg, WT_MSG_LEN, "progressive JPEG with more than %d scans", WT_MAX_SCANS);
		longjmp(e->jump, 1);
	}
}

int wt_jpeg_decode(const unsigned char *buf, size_t len, int width, int height, int scale_num,
                   unsigned char *out, int out_w, int out_h, int stride, char *msg) {
	struct jpeg_decompress_struct cinfo;
	struct wt_jpeg_err err;
	struct jpeg_progress_mgr progress = {.progress_monitor = wt_jpeg_progress};
	memset(&cinfo, 0, sizeof cinfo);
	wt_jpeg_init_err(&err, msg);
	cinfo.err = &err.pub;
	if (setjmp(err.jump)) {
		jpeg_destroy_decompress(&cinfo);
		return WT_ERR;
	}
	jpeg_create_decompress(&cinfo);
	cinfo.progress = &progress;
	jpeg_mem_src(&cinfo, buf, (unsigned long)len);
	jpeg_read_header(&cinfo, TRUE);
	if ((int)cinfo.image_width != width || (int)cinfo.image_height != height) {
		jpeg_destroy_decompress(&cinfo);
		return WT_MISMATCH;
	}
	if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
		jpeg_destroy_decompress(&cinfo);
		return WT_UNSUPPORTED;
	}
	cinfo.out_color_space = JCS_EXT_RGBA;
	cinfo.scale_num = scale_num;
	cinfo.scale_denom = 8;
	cinfo.dct_method = JDCT_ISLOW;
	jpeg_calc_output_dimensions(&cinfo);
	if ((int)cinfo.output_width != out_w || (int)cinfo.output_height != out_h) {
		jpeg_destroy_decompress(&cinfo);
		return WT_MISMATCH;
	}
	jpeg_start_decompress(&cinfo);
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW rows[16];
		int n = 0;
		for (; n < 16 && cinfo.output_scanline + n < cinfo.output_height; n++) {
			rows[n] = out + (size_t)(cinfo.output_scanline + n) * stride;
		}
		jpeg_read_scanlines(&cinfo, rows, n);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	return WT_OK;
}

// A destination that grows a malloc'd buffer: libjpeg's jpeg_mem_dest frees and replaces its
// buffer as it grows and tells where it is only at the end, so an error halfway would leave the
// caller unable to free it.
struct wt_dest {
	struct jpeg_destination_mgr pub;
	unsigned char *buf;
	size_t cap;
	size_t len;
};

static void wt_dest_init(j_compress_ptr cinfo) {
	struct wt_dest *d = (struct wt_dest *)cinfo->dest;
	d->buf = malloc(d->cap);
	if (d->buf == NULL) {
		ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
	}
	d->pub.next_output_byte = d->buf;
	d->pub.free_in_buffer = d->cap;
}

static boolean wt_dest_empty(j_compress_ptr cinfo) {
	// Called when the buffer is full (free_in_buffer is 0), whatever next_output_byte says.
	struct wt_dest *d = (struct wt_dest *)cinfo->dest;
	unsigned char *grown = realloc(d->buf, d->cap * 2);
	if (grown == NULL) {
		ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
	}
	d->buf = grown;
	d->pub.next_output_byte = grown + d->cap;
	d->pub.free_in_buffer = d->cap;
	d->cap *= 2;
	return TRUE;
}

static void wt_dest_term(j_compress_ptr cinfo) {
	struct wt_dest *d = (struct wt_dest *)cinfo->dest;
	d->len = d->cap - d->pub.free_in_buffer;
}

int wt_jpeg_encode(const unsigned char *pix, int width, int height, int stride, int quality,
                   unsigned char **out, unsigned long *out_len, char *msg) {
	struct jpeg_compress_struct cinfo;
	struct wt_jpeg_err err;
	struct wt_dest dest;
	memset(&cinfo, 0, sizeof cinfo);
	memset(&dest, 0, sizeof dest);
	dest.pub.init_destination = wt_dest_init;
	dest.pub.empty_output_buffer = wt_dest_empty;
	dest.pub.term_destination = wt_dest_term;
	dest.cap = 64 * 1024;
	wt_jpeg_init_err(&err, msg);
	cinfo.err = &err.pub;
	*out = NULL;
	*out_len = 0;
	if (setjmp(err.jump)) {
		jpeg_destroy_compress(&cinfo);
		free(dest.buf);
		return WT_ERR;
	}
	jpeg_create_compress(&cinfo);
	cinfo.dest = &dest.pub;
	cinfo.image_width = width;
	cinfo.image_height = height;
	cinfo.input_components = 4;
	cinfo.in_color_space = JCS_EXT_RGBX;
	jpeg_set_defaults(&cinfo); // YCbCr, 4:2:0, the standard's Huffman tables
	jpeg_set_quality(&cinfo, quality, TRUE);
	cinfo.dct_method = JDCT_ISLOW;
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height) {
		JSAMPROW rows[16];
		int n = 0;
		for (; n < 16 && cinfo.next_scanline + n < cinfo.image_height; n++) {
			rows[n] = (JSAMPROW)(pix + (size_t)(cinfo.next_scanline + n) * stride);
		}
		jpeg_write_scanlines(&cinfo, rows, n);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	*out = dest.buf;
	*out_len = dest.len;
	return WT_OK;
}
