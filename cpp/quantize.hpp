// The orchestrator: histogram -> initial palette -> k-means -> remap, for one image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "histogram.hpp"
#include "palette_init.hpp"
#include "png_decoder.hpp"
#include "png_encoder.hpp"

namespace quantcli {

// Set field by field from quantcli.QuantizeOptions (python/quantcli/options.py), which
// validates the values and holds the defaults: 2 <= k <= 256, max_iter >= 0, tol >= 0,
// threads >= 0, run_margin >= 0.
struct QuantizeOptions {
    int k = 0;
    std::uint64_t seed = 0;
    int max_iter = 0;
    double tol = 0.0;
    float dither = 0.0f;  // strength of error diffusion, 0..1; 0: none
    InitMethod init = InitMethod::kMedianCut;
    int threads = 0;  // 0: all cores; the result is the same for any value
    // Near-tie margin (squared units of the perceptual space) of remap_preferring_runs; 0:
    // nearest colours.
    float run_margin = 0.0f;
    // Most histogram entries the palette is fitted to (build_histogram's max_colors); an
    // image with more colours is counted on a coarser grid. 0: always the exact colours.
    std::size_t max_colors = 0;
};

struct PaletteFit {
    std::vector<Rgba8> palette;             // at most k entries, rounded to 8 bits
    std::vector<std::int32_t> color_label;  // palette entry of each histogram colour
    int iterations = 0;
};

struct Quantized {
    std::vector<Rgba8> palette;
    std::vector<std::uint8_t> labels;   // one per pixel
    std::vector<std::uint64_t> counts;  // pixels per palette entry
    double sse = 0.0;                   // squared error of the output, all channels
    double perceptual_sse = 0.0;        // squared error in the perceptual space (perceptual.hpp)
    int iterations = 0;
    std::size_t unique_colors = 0;
};

// Gives `hist` the importance weights of its image (importance.hpp), from the histogram
// colour of every pixel: fit_palette then fits the palette quantize fits on that image.
void add_importance(Histogram& hist, const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                    std::size_t height, int threads);

// The palette for a histogram. With at most k unique colours the palette is exactly
// those colours (lossless). Otherwise k entries: fully transparent pixels, if any, keep
// one fixed entry, and k-means places the others.
PaletteFit fit_palette(const Histogram& hist, const QuantizeOptions& options);

// Quantizes interleaved RGB/RGBA pixels (channels 3 or 4).
Quantized quantize(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                   const QuantizeOptions& options);

// Maps pixels onto a palette chosen elsewhere (a shared or user palette).
Quantized remap_to_palette(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                           const std::vector<Rgba8>& palette, float dither, float run_margin,
                           int threads = 0);

// The pixels `quantize` would write for a palette fitted elsewhere on the image's own
// histogram (`fit` from fit_palette with the same options; `pixel_color` from
// build_histogram): the same remap, dithering included, so the labels, counts and error
// are those of quantize. For choosing K, where one histogram serves many fits.
Quantized remap_fit(const Histogram& hist, const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                    std::size_t height, const PaletteFit& fit, const QuantizeOptions& options);

// The palette size for a quality target, by bisection on K from one histogram (with the
// image's importance weights): the smallest k in [2, options.k] whose palette, fitted as
// quantize fits it, has a mean squared perceptual error per pixel (each colour on its
// nearest entry, no dithering) of at most `max_mse`; options.k when none has.
struct KForError {
    int k = 0;
    double mse = 0.0;      // at k
    double mse_top = 0.0;  // at options.k
};
KForError smallest_k_for_error(const std::uint8_t* pixels, std::size_t width, std::size_t height,
                               int channels, const QuantizeOptions& options, double max_mse);

// The image `quantize(pixels, ..., options)` writes, dithering included, when its fit is
// `palette` (fit_palette's palette on this image's histogram with the same options):
// for -k auto, which keeps the palette of the winning K instead of fitting it again.
// `hist` and `pixel_color` come from build_histogram of `pixels`.
Quantized remap_fitted_palette(const std::uint8_t* pixels, int channels, const Histogram& hist,
                               const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                               std::size_t height, const std::vector<Rgba8>& palette,
                               const QuantizeOptions& options);

// A plain PNG file (png_decoder.hpp) decoded, quantized and encoded in one call: what
// quantcli.pipeline makes of the file through Pillow, NumPy, quantize and encode_png, byte
// for byte, without either library. False when the file is declined (not a plain PNG,
// or more than `max_pixels` pixels); the caller then takes the general route.
struct CompressedPng {
    std::vector<std::uint8_t> png;
    std::size_t colors = 0;   // palette entries
    double sse = 0.0;         // squared error of the output, all channels
    std::size_t samples = 0;  // pixels times channels of the decoded image
};
bool compress_plain_png(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels,
                        const QuantizeOptions& options, const PngOptions& png_options, CompressedPng& out);

}  // namespace quantcli
