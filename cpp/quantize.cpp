#include "quantize.hpp"

#include <algorithm>
#include <cmath>

#include "kmeans.hpp"
#include "parallel.hpp"
#include "remap.hpp"

namespace quantcli {
namespace {

Rgba8 round_to_8bit(const Point4& p) {
    Rgba8 c;
    for (int ch = 0; ch < 4; ++ch) {
        c[ch] = static_cast<std::uint8_t>(std::clamp(std::lround(p.c[ch]), 0L, 255L));
    }
    return c;
}

Point4 entry_point(const Rgba8& c) {
    return {{static_cast<float>(c[0]), static_cast<float>(c[1]), static_cast<float>(c[2]),
             static_cast<float>(c[3])}};
}

std::vector<Point4> points_of(const std::vector<Rgba8>& palette) {
    std::vector<Point4> out;
    out.reserve(palette.size());
    for (const Rgba8& c : palette) out.push_back(entry_point(c));
    return out;
}

// Counts and squared error of a remap that went colour by colour.
void tally(const Histogram& hist, const std::vector<std::int32_t>& color_label, Quantized& q) {
    q.counts.assign(q.palette.size(), 0);
    const std::vector<Point4> entries = points_of(q.palette);
    for (std::size_t i = 0; i < hist.size(); ++i) {
        const std::int32_t label = color_label[i];
        q.counts[label] += hist.counts[i];
        q.sse +=
            static_cast<double>(hist.counts[i]) * squared_distance(point_of(hist.colors[i]), entries[label]);
    }
}

void tally_labels(Quantized& q) {
    q.counts.assign(q.palette.size(), 0);
    for (std::uint8_t label : q.labels) ++q.counts[label];
}

// Labels for every pixel without dithering: each colour's nearest entry, or with a
// run margin, remap_preferring_runs. `guess` holds an entry near each colour, where its
// search starts. Fills labels, counts and the squared error.
void remap_nearest(const Histogram& hist, const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                   const std::vector<std::int32_t>& guess, float run_margin, int threads, Quantized& q) {
    if (run_margin <= 0.0f) {
        const std::vector<std::int32_t> color_label =
            assign_nearest(to_points(hist), points_of(q.palette), &guess, threads);
        remap_by_color(pixel_color, color_label, q.labels.data(), threads);
        tally(hist, color_label, q);
        return;
    }
    const std::size_t n = hist.size();
    const NeighbourIndex index(points_of(q.palette));
    std::vector<std::int32_t> best(n), second(n);
    std::vector<float> best_sq(n), second_sq(n);
    constexpr std::size_t kBlock = 8192;
    parallel_for(block_count(n, kBlock), threads, [&](std::size_t b) {
        for (std::size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
            const NeighbourIndex::Two two = index.search_two(point_of(hist.colors[i]), guess[i]);
            best[i] = two.best;
            second[i] = two.second;
            best_sq[i] = two.best_sq;
            second_sq[i] = two.second_sq;
        }
    });
    q.sse = remap_preferring_runs(pixel_color, width, best, second, best_sq, second_sq, hist.counts,
                                  run_margin, q.labels.data());
    tally_labels(q);
}

// fit_palette, except that `color_label` holds the k-means assignment, which is near
// each colour's nearest rounded entry but not always it.
PaletteFit fit_palette_roughly(const Histogram& hist, const QuantizeOptions& options) {
    PaletteFit fit;
    if (hist.size() <= static_cast<std::size_t>(options.k)) {
        for (std::size_t i = 0; i < hist.size(); ++i) {
            fit.palette.push_back(round_to_8bit(point_of(hist.colors[i])));
            fit.color_label.push_back(static_cast<std::int32_t>(i));
        }
        return fit;
    }
    std::vector<Point4> fixed;
    if (hist.colors.front() == kTransparentKey) fixed.push_back(point_of(kTransparentKey));
    const int n_fixed = static_cast<int>(fixed.size());
    const WeightedPoints exact = to_points(hist);
    std::vector<std::int32_t> box_of;
    std::vector<Point4> init = options.init == InitMethod::kMedianCut
                                   ? median_cut_init(exact, options.k, fixed, &box_of)
                                   : kmeanspp_init(exact, options.k, options.seed, fixed);
    const int threads = resolve_threads(options.threads);
    const KMeansResult km = kmeans(exact, std::move(init), n_fixed, options.max_iter, options.tol,
                                   box_of.empty() ? nullptr : &box_of, threads);
    fit.iterations = km.iterations;
    for (const Point4& c : km.centres) fit.palette.push_back(round_to_8bit(c));
    fit.color_label = km.assignment;
    return fit;
}

}  // namespace

PaletteFit fit_palette(const Histogram& hist, const QuantizeOptions& options) {
    PaletteFit fit = fit_palette_roughly(hist, options);
    if (hist.size() > static_cast<std::size_t>(options.k)) {
        // Rounding moved the centres a little: assign each colour to its nearest entry as
        // written, so the labels are exactly the nearest palette colours.
        fit.color_label = assign_nearest(to_points(hist), points_of(fit.palette), &fit.color_label,
                                         resolve_threads(options.threads));
    }
    return fit;
}

Quantized quantize(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                   const QuantizeOptions& options) {
    std::vector<std::uint32_t> pixel_color;
    const Histogram hist =
        build_histogram(pixels, width * height, channels, &pixel_color, resolve_threads(options.threads));
    PaletteFit fit = fit_palette_roughly(hist, options);
    Quantized q;
    q.palette = std::move(fit.palette);
    q.iterations = fit.iterations;
    q.unique_colors = hist.size();
    q.labels.resize(width * height);
    const bool lossy = hist.size() > static_cast<std::size_t>(options.k);
    if (options.dither && lossy) {
        q.sse = remap_dithered(pixels, width, height, channels, points_of(q.palette), q.labels.data());
        tally_labels(q);
    } else {
        remap_nearest(hist, pixel_color, width, fit.color_label, lossy ? options.run_margin : 0.0f,
                      resolve_threads(options.threads), q);
    }
    return q;
}

Quantized remap_to_palette(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                           const std::vector<Rgba8>& palette, bool dither, float run_margin, int threads) {
    threads = resolve_threads(threads);
    Quantized q;
    q.palette = palette;
    q.labels.resize(width * height);
    if (dither) {
        q.sse = remap_dithered(pixels, width, height, channels, points_of(palette), q.labels.data());
        tally_labels(q);
        return q;
    }
    std::vector<std::uint32_t> pixel_color;
    const Histogram hist = build_histogram(pixels, width * height, channels, &pixel_color, threads);
    q.unique_colors = hist.size();
    const std::vector<std::int32_t> color_label =
        assign_nearest(to_points(hist), points_of(palette), nullptr, threads);
    remap_nearest(hist, pixel_color, width, color_label, run_margin, threads, q);
    return q;
}

Quantized remap_fit(const Histogram& hist, const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                    std::size_t height, const PaletteFit& fit, const QuantizeOptions& options) {
    Quantized q;
    q.palette = fit.palette;
    q.iterations = fit.iterations;
    q.unique_colors = hist.size();
    q.labels.resize(width * height);
    const bool lossy = hist.size() > static_cast<std::size_t>(options.k);
    // fit.color_label holds each colour's nearest entry: the best start for its search.
    remap_nearest(hist, pixel_color, width, fit.color_label, lossy ? options.run_margin : 0.0f,
                  resolve_threads(options.threads), q);
    return q;
}

Quantized remap_fitted_palette(const std::uint8_t* pixels, int channels, const Histogram& hist,
                               const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                               std::size_t height, const std::vector<Rgba8>& palette,
                               const QuantizeOptions& options) {
    const bool lossy = hist.size() > static_cast<std::size_t>(options.k);
    if (options.dither && lossy) {  // as quantize dithers
        Quantized q;
        q.palette = palette;
        q.unique_colors = hist.size();
        q.labels.resize(width * height);
        q.sse = remap_dithered(pixels, width, height, channels, points_of(palette), q.labels.data());
        tally_labels(q);
        return q;
    }
    const int threads = resolve_threads(options.threads);
    const PaletteFit fit{palette, assign_nearest(to_points(hist), points_of(palette), nullptr, threads), 0};
    return remap_fit(hist, pixel_color, width, height, fit, options);
}

}  // namespace quantcli
