// Choosing the palette size: fit every candidate K on one histogram and score each fit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "histogram.hpp"
#include "quantize.hpp"

namespace quantcli {

// How one candidate K did.
struct KScore {
    int k = 0;                          // the palette size asked for
    int colors = 0;                     // palette entries: fewer than k only when the image has fewer colours
    double sse = 0.0;                   // squared error over all pixels and all four channels (see scan_k)
    double silhouette = 0.0;            // squared-Euclidean silhouette of all pixels (NaN: < 2 clusters)
    double silhouette_euclidean = 0.0;  // Euclidean silhouette of the sample (NaN if none)
    std::int64_t png_bytes = -1;        // size of the fit encoded as PNG; -1 if not encoded
    int iterations = 0;                 // k-means updates
    std::vector<Rgba8> palette;         // the fit's palette, as quantize would have it
};

// An image prepared once for choosing K: its histogram and the histogram colour of every
// pixel, shared by every candidate fit and by the final remap of the chosen one.
struct PreparedImage {
    Histogram hist;
    std::vector<std::uint32_t> pixel_color;
    std::size_t width = 0, height = 0;
};

PreparedImage prepare_image(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                            int threads);

struct ScanOptions {
    QuantizeOptions quantize;  // every field but k, which comes from the candidate list
    std::size_t sample = 0;    // pixels in the Euclidean-silhouette sample; 0: no sample
    std::uint64_t sample_seed = 0;
    int threads = 0;  // 0: every hardware thread
    // The image the histogram came from, when known: the histogram colour of every pixel,
    // row by row. Each fit is then remapped as quantize remaps it, and with `png_level`
    // from 0 to 9 also encoded as compress encodes it.
    int png_level = -1;  // -1: do not encode
    const std::vector<std::uint32_t>* pixel_color = nullptr;
    std::size_t width = 0, height = 0;
};

// Fits a palette for each K in `ks` with fit_palette (the fit `quantize` would make with
// the same options) and scores it. The histogram is shared by every fit; candidates run
// in parallel and each writes only its own slot, so the scores do not depend on the
// thread count. The silhouettes take each colour's nearest palette entry as its cluster:
// the squared one covers every pixel; the Euclidean one, when `sample` > 0, covers the
// same seeded pixel sample for every K. `sse` is that of the image quantize writes (its
// run-preferring remap included) when `pixel_color` is given, else of nearest-entry
// remapping; `png_bytes` is the size of the PNG compress would write at `png_level`.
// Validated by the caller: each k from 2 to 256, a non-empty histogram.
std::vector<KScore> scan_k(const Histogram& hist, const std::vector<int>& ks, const ScanOptions& options);

// scan_k on a prepared image: `options.pixel_color`, `width` and `height` are set from it.
std::vector<KScore> scan_k(const PreparedImage& image, const std::vector<int>& ks, ScanOptions options);

}  // namespace quantcli
