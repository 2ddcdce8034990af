// The orchestrator: histogram -> initial palette -> k-means -> remap, for one image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "histogram.hpp"
#include "palette_init.hpp"
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
    bool dither = false;
    InitMethod init = InitMethod::kMedianCut;
    int threads = 0;  // 0: all cores; the result is the same for any value
    // Near-tie margin (squared 8-bit units) of remap_preferring_runs; 0: nearest colours.
    float run_margin = 0.0f;
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
    int iterations = 0;
    std::size_t unique_colors = 0;
};

// The palette for a histogram. With at most k unique colours the palette is exactly
// those colours (lossless). Otherwise k entries: fully transparent pixels, if any, keep
// one fixed entry, and k-means places the others.
PaletteFit fit_palette(const Histogram& hist, const QuantizeOptions& options);

// Quantizes interleaved RGB/RGBA pixels (channels 3 or 4).
Quantized quantize(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                   const QuantizeOptions& options);

// Maps pixels onto a palette chosen elsewhere (a shared or user palette).
Quantized remap_to_palette(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                           const std::vector<Rgba8>& palette, bool dither, float run_margin, int threads = 0);

// The pixels `quantize` would write for a palette fitted elsewhere on the image's own
// histogram (`fit` from fit_palette with the same options; `pixel_color` from
// build_histogram): the same remap, without dithering, so the labels, counts and error
// are those of quantize. For choosing K, where one histogram serves many fits.
Quantized remap_fit(const Histogram& hist, const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                    std::size_t height, const PaletteFit& fit, const QuantizeOptions& options);

// The image `quantize(pixels, ..., options)` writes, dithering included, when its fit is
// `palette` (fit_palette's palette on this image's histogram with the same options):
// for -k auto, which keeps the palette of the winning K instead of fitting it again.
// `hist` and `pixel_color` come from build_histogram of `pixels`.
Quantized remap_fitted_palette(const std::uint8_t* pixels, int channels, const Histogram& hist,
                               const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                               std::size_t height, const std::vector<Rgba8>& palette,
                               const QuantizeOptions& options);

}  // namespace quantcli
