#include "quantize.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "dither.hpp"
#include "importance.hpp"
#include "kmeans.hpp"
#include "parallel.hpp"
#include "perceptual.hpp"
#include "remap.hpp"

namespace quantcli {
namespace {

// The palette's entries as points of the perceptual space, where every search runs.
std::vector<Point4> points_of(const std::vector<Rgba8>& palette) {
    const PerceptualSpace& space = PerceptualSpace::get();
    std::vector<Point4> out;
    out.reserve(palette.size());
    for (const Rgba8& c : palette) out.push_back(space.point(c));
    return out;
}

// Squared sRGB error between a colour and a palette entry: an integer, so sums of it are
// exact in any order.
std::uint64_t rgb_squared_error(ColorKey key, const Rgba8& c) {
    std::uint64_t e = 0;
    for (int ch = 0; ch < 4; ++ch) {
        const int d = static_cast<int>(key_channel(key, ch)) - c[ch];
        e += static_cast<std::uint64_t>(d * d);
    }
    return e;
}

// The sRGB squared error of the labels against the pixels themselves (a coarse histogram's
// colours only approximate them), summed per block and then in block order.
double pixel_squared_error(const std::uint8_t* pixels, std::size_t n, int channels, const Quantized& q,
                           int threads) {
    constexpr std::size_t kBlock = 1 << 16;
    std::vector<std::uint64_t> block_sse(block_count(n, kBlock), 0);
    parallel_for(block_sse.size(), threads, [&](std::size_t b) {
        std::uint64_t sum = 0;
        for (std::size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
            sum += rgb_squared_error(pixel_key(pixels, i, channels), q.palette[q.labels[i]]);
        }
        block_sse[b] = sum;
    });
    return static_cast<double>(std::accumulate(block_sse.begin(), block_sse.end(), std::uint64_t{0}));
}

// Counts and squared errors (sRGB and perceptual) of a remap that went colour by colour.
// `points` are the histogram's colours in the perceptual space.
void tally(const Histogram& hist, const WeightedPoints& points, const std::vector<std::int32_t>& color_label,
           Quantized& q) {
    q.counts.assign(q.palette.size(), 0);
    const std::vector<Point4> entries = points_of(q.palette);
    std::uint64_t sse = 0;
    double perceptual = 0.0;
    for (std::size_t i = 0; i < hist.size(); ++i) {
        const std::int32_t label = color_label[i];
        q.counts[label] += hist.counts[i];
        sse += hist.counts[i] * rgb_squared_error(hist.colors[i], q.palette[label]);
        perceptual +=
            static_cast<double>(hist.counts[i]) * squared_distance(points.points[i], entries[label]);
    }
    q.sse = static_cast<double>(sse);
    q.perceptual_sse = perceptual;
}

// The same for labels chosen pixel by pixel.
void tally_labels(const Histogram& hist, const WeightedPoints& points,
                  const std::vector<std::uint32_t>& pixel_color, Quantized& q) {
    q.counts.assign(q.palette.size(), 0);
    const std::vector<Point4> entries = points_of(q.palette);
    std::uint64_t sse = 0;
    double perceptual = 0.0;
    // Each stretch of pixels gathers its colours first, so the cache misses overlap; the
    // sums then run in pixel order as before.
    constexpr std::size_t kStretch = 2048;
    std::vector<ColorKey> keys(kStretch);
    std::vector<Point4> colors(kStretch);
    for (std::size_t begin = 0; begin < q.labels.size(); begin += kStretch) {
        const std::size_t n = std::min(kStretch, q.labels.size() - begin);
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t c = pixel_color[begin + i];
            keys[i] = hist.colors[c];
            colors[i] = points.points[c];
        }
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t label = q.labels[begin + i];
            ++q.counts[label];
            sse += rgb_squared_error(keys[i], q.palette[label]);
            perceptual += squared_distance(colors[i], entries[label]);
        }
    }
    q.sse = static_cast<double>(sse);
    q.perceptual_sse = perceptual;
}

// Labels for every pixel without dithering: each colour's nearest entry, or with a
// run margin, remap_preferring_runs. `points` are the histogram's colours in the
// perceptual space; `guess` holds an entry near each colour, where its search starts.
// Fills labels, counts and the squared error.
void remap_nearest(const Histogram& hist, const WeightedPoints& points,
                   const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                   const std::vector<std::int32_t>& guess, float run_margin, int threads, Quantized& q) {
    if (run_margin <= 0.0f) {
        const std::vector<std::int32_t> color_label =
            assign_nearest(points, points_of(q.palette), &guess, threads);
        remap_by_color(pixel_color, color_label, q.labels.data(), threads);
        tally(hist, points, color_label, q);
        return;
    }
    const std::size_t n = hist.size();
    const NeighbourIndex index(points_of(q.palette));
    std::vector<std::int32_t> best(n), second(n);
    std::vector<float> best_sq(n), second_sq(n);
    constexpr std::size_t kBlock = 8192;
    parallel_for(block_count(n, kBlock), threads, [&](std::size_t b) {
        for (std::size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
            const NeighbourIndex::Two two = index.search_two(points.points[i], guess[i]);
            best[i] = two.best;
            second[i] = two.second;
            best_sq[i] = two.best_sq;
            second_sq[i] = two.second_sq;
        }
    });
    remap_preferring_runs(pixel_color, width, best, second, best_sq, second_sq, run_margin, q.labels.data());
    tally_labels(hist, points, pixel_color, q);
}

// The labels of the image: dithered where `flatness` allows it, else nearest (with the
// run margin). `guess` holds an entry near each colour.
void remap_image(const Histogram& hist, const WeightedPoints& points,
                 const std::vector<std::uint32_t>& pixel_color, const std::vector<std::uint8_t>& flatness,
                 std::size_t width, std::size_t height, const std::vector<std::int32_t>& guess, float dither,
                 float run_margin, int threads, Quantized& q) {
    if (dither <= 0.0f) {
        remap_nearest(hist, points, pixel_color, width, guess, run_margin, threads, q);
        return;
    }
    // The nearest entry of every colour starts each search of the diffusion.
    const std::vector<Point4> entries = points_of(q.palette);
    const std::vector<std::int32_t> nearest = assign_nearest(points, entries, &guess, threads);
    remap_dithered(points.points, pixel_color, nearest, flatness, width, height, entries, dither,
                   q.labels.data());
    tally_labels(hist, points, pixel_color, q);
}

// fit_palette on the histogram's colours as `points`, except that `color_label` holds the
// k-means assignment, which is near each colour's nearest rounded entry but not always it.
PaletteFit fit_palette_roughly(const Histogram& hist, const WeightedPoints& points,
                               const QuantizeOptions& options) {
    PaletteFit fit;
    if (hist.size() <= static_cast<std::size_t>(options.k)) {
        for (std::size_t i = 0; i < hist.size(); ++i) {
            fit.palette.push_back(key_color(hist.colors[i]));
            fit.color_label.push_back(static_cast<std::int32_t>(i));
        }
        return fit;
    }
    const PerceptualSpace& space = PerceptualSpace::get();
    std::vector<Point4> fixed;
    if (hist.colors.front() == kTransparentKey) fixed.push_back(space.point(kTransparentKey));
    const int n_fixed = static_cast<int>(fixed.size());
    std::vector<std::int32_t> box_of;
    std::vector<Point4> init = options.init == InitMethod::kMedianCut
                                   ? median_cut_init(points, options.k, fixed, &box_of)
                                   : kmeanspp_init(points, options.k, options.seed, fixed);
    const int threads = resolve_threads(options.threads);
    const KMeansResult km = kmeans(points, std::move(init), n_fixed, options.max_iter, options.tol,
                                   box_of.empty() ? nullptr : &box_of, threads);
    fit.iterations = km.iterations;
    for (const Point4& c : km.centres) fit.palette.push_back(space.color(c));
    fit.color_label = km.assignment;
    return fit;
}

}  // namespace

void add_importance(Histogram& hist, const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                    std::size_t height, int threads) {
    if (hist.size() < 2) return;
    const WeightedPoints points = perceptual_points(hist);
    hist.weights =
        importance_weights(flatness_map(points.points, pixel_color, width, height, resolve_threads(threads)),
                           pixel_color, hist.size());
}

PaletteFit fit_palette(const Histogram& hist, const QuantizeOptions& options) {
    const WeightedPoints points = perceptual_points(hist);
    PaletteFit fit = fit_palette_roughly(hist, points, options);
    if (hist.size() > static_cast<std::size_t>(options.k)) {
        // Rounding moved the centres a little: assign each colour to its nearest entry as
        // written, so the labels are exactly the nearest palette colours.
        fit.color_label = assign_nearest(points, points_of(fit.palette), &fit.color_label,
                                         resolve_threads(options.threads));
    }
    return fit;
}

Quantized quantize(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                   const QuantizeOptions& options) {
    const int threads = resolve_threads(options.threads);
    std::vector<std::uint32_t> pixel_color;
    Histogram hist =
        build_histogram(pixels, width * height, channels, &pixel_color, threads, options.max_colors);
    const bool lossy = hist.size() > static_cast<std::size_t>(options.k);
    WeightedPoints points = perceptual_points(hist);
    std::vector<std::uint8_t> flatness;
    if (lossy) {
        flatness = flatness_map(points.points, pixel_color, width, height, threads);
        hist.weights = importance_weights(flatness, pixel_color, hist.size());
        for (std::size_t i = 0; i < hist.size(); ++i)
            points.weights[i] = static_cast<double>(hist.weights[i]);
    }
    PaletteFit fit = fit_palette_roughly(hist, points, options);
    Quantized q;
    q.palette = std::move(fit.palette);
    q.iterations = fit.iterations;
    q.unique_colors = hist.size();
    q.labels.resize(width * height);
    remap_image(hist, points, pixel_color, flatness, width, height, fit.color_label,
                lossy ? options.dither : 0.0f, lossy ? options.run_margin : 0.0f, threads, q);
    if (hist.dropped_bits > 0) q.sse = pixel_squared_error(pixels, width * height, channels, q, threads);
    return q;
}

Quantized remap_to_palette(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                           const std::vector<Rgba8>& palette, float dither, float run_margin, int threads) {
    threads = resolve_threads(threads);
    Quantized q;
    q.palette = palette;
    q.labels.resize(width * height);
    std::vector<std::uint32_t> pixel_color;
    const Histogram hist = build_histogram(pixels, width * height, channels, &pixel_color, threads);
    q.unique_colors = hist.size();
    const WeightedPoints points = perceptual_points(hist);
    const std::vector<std::int32_t> color_label =
        assign_nearest(points, points_of(palette), nullptr, threads);
    std::vector<std::uint8_t> flatness;
    if (dither > 0.0f) flatness = flatness_map(points.points, pixel_color, width, height, threads);
    remap_image(hist, points, pixel_color, flatness, width, height, color_label, dither, run_margin, threads,
                q);
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
    const WeightedPoints points = perceptual_points(hist);
    std::vector<std::uint8_t> flatness;
    const float dither = lossy ? options.dither : 0.0f;
    if (dither > 0.0f) flatness = flatness_map(points.points, pixel_color, width, height, 1);
    // fit.color_label holds each colour's nearest entry: the best start for its search.
    remap_image(hist, points, pixel_color, flatness, width, height, fit.color_label, dither,
                lossy ? options.run_margin : 0.0f, resolve_threads(options.threads), q);
    return q;
}

KForError smallest_k_for_error(const std::uint8_t* pixels, std::size_t width, std::size_t height,
                               int channels, const QuantizeOptions& options, double max_mse) {
    const int threads = resolve_threads(options.threads);
    std::vector<std::uint32_t> pixel_color;
    Histogram hist = build_histogram(pixels, width * height, channels, &pixel_color, threads);
    add_importance(hist, pixel_color, width, height, threads);
    const WeightedPoints points = perceptual_points(hist);
    const double n_pixels = static_cast<double>(width * height);
    // Error of each colour on its nearest entry, summed with the pixel counts (as tally).
    auto mse_at = [&](int k) {
        QuantizeOptions at = options;
        at.k = k;
        const PaletteFit fit = fit_palette(hist, at);
        const std::vector<Point4> entries = points_of(fit.palette);
        double sum = 0.0;
        for (std::size_t i = 0; i < hist.size(); ++i) {
            sum += static_cast<double>(hist.counts[i]) *
                   squared_distance(points.points[i], entries[fit.color_label[i]]);
        }
        return sum / n_pixels;
    };
    KForError out;
    out.mse_top = mse_at(options.k);
    out.k = options.k;
    out.mse = out.mse_top;
    if (out.mse_top > max_mse) return out;
    // The answer is in [lo, out.k], and out.k reaches the target.
    int lo = 2;
    while (lo < out.k) {
        const int mid = lo + (out.k - lo) / 2;
        const double mse = mse_at(mid);
        if (mse <= max_mse) {
            out.k = mid;
            out.mse = mse;
        } else {
            lo = mid + 1;
        }
    }
    return out;
}

Quantized remap_fitted_palette(const std::uint8_t* pixels, int channels, const Histogram& hist,
                               const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                               std::size_t height, const std::vector<Rgba8>& palette,
                               const QuantizeOptions& options) {
    (void)pixels, (void)channels;  // remap_fit dithers from the histogram colours, as quantize
    const int threads = resolve_threads(options.threads);
    const PaletteFit fit{palette,
                         assign_nearest(perceptual_points(hist), points_of(palette), nullptr, threads), 0};
    return remap_fit(hist, pixel_color, width, height, fit, options);
}

bool compress_plain_png(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels,
                        const QuantizeOptions& options, const PngOptions& png_options, CompressedPng& out) {
    DecodedImage image;
    if (!decode_plain_png(data, size, max_pixels, image)) return false;
    Quantized q = quantize(image.pixels.data(), image.width, image.height, image.channels, options);
    image.pixels = std::vector<std::uint8_t>();
    // An RGB image's palette is written opaque, as encode_png's binding reads an (n, 3) palette.
    if (image.channels == 3) {
        for (Rgba8& entry : q.palette) entry[3] = 255;
    }
    out.png = encode_png(q.labels.data(), image.width, image.height, q.palette, png_options);
    out.colors = q.palette.size();
    out.sse = q.sse;
    out.samples = image.width * image.height * static_cast<std::size_t>(image.channels);
    return true;
}

}  // namespace quantcli
