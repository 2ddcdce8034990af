#include "choose_k.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nearest.hpp"
#include "parallel.hpp"
#include "png_encoder.hpp"
#include "silhouette.hpp"

namespace quantcli {
namespace {

Point4 point_of_entry(const Rgba8& c) {
    return {{static_cast<float>(c[0]), static_cast<float>(c[1]), static_cast<float>(c[2]),
             static_cast<float>(c[3])}};
}

// Error and silhouette of one fit. The squared error is summed exactly as
// `quantize` sums it (same order, exact integer terms), so the two agree to the bit.
KScore score_fit(const Histogram& hist, const PaletteFit& fit, int k) {
    KScore s;
    s.k = k;
    s.colors = static_cast<int>(fit.palette.size());
    s.iterations = fit.iterations;
    std::vector<Point4> entries;
    entries.reserve(fit.palette.size());
    for (const Rgba8& c : fit.palette) entries.push_back(point_of_entry(c));
    std::vector<std::uint64_t> counts(fit.palette.size(), 0);
    for (std::size_t i = 0; i < hist.size(); ++i) {
        const std::int32_t label = fit.color_label[i];
        counts[label] += hist.counts[i];
        s.sse +=
            static_cast<double>(hist.counts[i]) * squared_distance(point_of(hist.colors[i]), entries[label]);
    }
    s.silhouette = squared_silhouette(hist, fit.color_label, s.colors);
    return s;
}

}  // namespace

std::vector<KScore> scan_k(const Histogram& hist, const std::vector<int>& ks, const ScanOptions& options) {
    const std::size_t n = ks.size();
    std::vector<KScore> scores(n);
    std::vector<std::vector<std::int32_t>> labels(options.sample > 0 ? n : 0);
    // Largest K first: the slowest fits start early, so the threads finish together.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ks[a] > ks[b]; });
    // Candidates run side by side, each fit on one thread: that splits the work more
    // evenly than threads inside each fit, and gives the same fits.
    parallel_for(n, resolve_threads(options.threads), [&](std::size_t t) {
        const std::size_t i = order[t];
        QuantizeOptions q = options.quantize;
        q.k = ks[i];
        q.threads = 1;
        PaletteFit fit = fit_palette(hist, q);
        scores[i] = score_fit(hist, fit, ks[i]);
        scores[i].palette = fit.palette;
        if (options.pixel_color != nullptr) {
            // The image compress would write at this K: its error, and its size if asked.
            const Quantized out =
                remap_fit(hist, *options.pixel_color, options.width, options.height, fit, q);
            scores[i].sse = out.sse;
            if (options.png_level >= 0) {
                scores[i].png_bytes =
                    static_cast<std::int64_t>(encode_png(out.labels.data(), options.width, options.height,
                                                         out.palette, PngOptions{options.png_level, true, 1})
                                                  .size());
            }
        }
        if (options.sample > 0) labels[i] = std::move(fit.color_label);
    });
    if (options.sample == 0) {
        for (KScore& s : scores) s.silhouette_euclidean = std::nan("");
        return scores;
    }

    // The sample as distinct colours with multiplicities (sample_pixels sorts by colour).
    const std::vector<std::uint32_t> drawn = sample_pixels(hist, options.sample, options.sample_seed);
    WeightedPoints samples;
    std::vector<std::uint32_t> colour_of;
    for (std::size_t r = 0; r < drawn.size();) {
        std::size_t end = r;
        while (end < drawn.size() && drawn[end] == drawn[r]) ++end;
        colour_of.push_back(drawn[r]);
        samples.points.push_back(point_of(hist.colors[drawn[r]]));
        samples.weights.push_back(static_cast<double>(end - r));
        r = end;
    }
    std::vector<std::vector<std::int32_t>> labellings(n, std::vector<std::int32_t>(colour_of.size()));
    std::vector<int> n_clusters(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t u = 0; u < colour_of.size(); ++u) labellings[i][u] = labels[i][colour_of[u]];
        n_clusters[i] = scores[i].colors;
    }
    const std::vector<double> values =
        euclidean_silhouettes(samples, labellings, n_clusters, options.threads);
    for (std::size_t i = 0; i < n; ++i) scores[i].silhouette_euclidean = values[i];
    return scores;
}

PreparedImage prepare_image(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                            int threads) {
    PreparedImage image;
    image.width = width;
    image.height = height;
    image.hist =
        build_histogram(pixels, width * height, channels, &image.pixel_color, resolve_threads(threads));
    return image;
}

std::vector<KScore> scan_k(const PreparedImage& image, const std::vector<int>& ks, ScanOptions options) {
    options.pixel_color = &image.pixel_color;
    options.width = image.width;
    options.height = image.height;
    return scan_k(image.hist, ks, options);
}

}  // namespace quantcli
