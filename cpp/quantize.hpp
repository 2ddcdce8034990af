// The orchestrator: histogram -> initial palette -> k-means -> remap, for one image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "histogram.hpp"
#include "palette_init.hpp"
#include "png_encoder.hpp"

namespace quantcli {

// Validated by the caller (the Python options object): 2 <= k <= 256, max_iter >= 0,
// tol >= 0.
struct QuantizeOptions {
    int k = 256;
    std::uint64_t seed = 0;
    int max_iter = 50;
    double tol = 2e-3;
    bool dither = false;
    InitMethod init = InitMethod::kMedianCut;
    int threads = 0;  // 0: all cores; the result is the same for any value
    // Near-tie margin (squared 8-bit units) of remap_preferring_runs; 0: nearest colours.
    float run_margin = 4.0f;
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

}  // namespace quantcli
