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
    int k = 0;                 // the palette size asked for
    int colors = 0;            // palette entries: fewer than k only when the image has fewer colours
    double sse = 0.0;          // squared error over all pixels and all four channels
    double silhouette = 0.0;   // squared-Euclidean silhouette of all pixels (NaN: < 2 clusters)
    double silhouette_euclidean = 0.0;  // Euclidean silhouette of the sample (NaN if none)
    std::int64_t png_bytes = -1;        // size of the fit encoded as PNG; -1 if not encoded
    int iterations = 0;        // k-means updates
};

struct ScanOptions {
    QuantizeOptions quantize;   // every field but k, which comes from the candidate list
    std::size_t sample = 0;     // pixels in the Euclidean-silhouette sample; 0: no sample
    std::uint64_t sample_seed = 0;
    int threads = 0;            // 0: every hardware thread
    // To also encode each fit as a PNG at zlib level `png_level` (0..9), the image the
    // histogram came from: the histogram colour of every pixel, row by row.
    int png_level = -1;         // -1: do not encode
    const std::vector<std::uint32_t>* pixel_color = nullptr;
    std::size_t width = 0, height = 0;
};

// Fits a palette for each K in `ks` with fit_palette (the fit `quantize` would make with
// the same options) and scores it. The histogram is shared by every fit; candidates run
// in parallel and each writes only its own slot, so the scores do not depend on the
// thread count. The squared silhouette covers every pixel; the Euclidean one, when
// `sample` > 0, covers the same seeded pixel sample for every K. With `png_level` >= 0
// each fit is remapped and encoded as compress would encode it, to measure its size.
// Validated by the caller: each k from 2 to 256, a non-empty histogram.
std::vector<KScore> scan_k(const Histogram& hist, const std::vector<int>& ks, const ScanOptions& options);

}  // namespace quantcli
