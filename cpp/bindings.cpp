// The Python module quantcli._core: converts and checks NumPy arrays while holding the
// GIL, then releases it for the C++ work. No algorithm lives here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "choose_k.hpp"
#include "histogram.hpp"
#include "kmeans.hpp"
#include "parallel.hpp"
#include "png_encoder.hpp"
#include "quantize.hpp"
#include "silhouette.hpp"

namespace py = pybind11;
using namespace quantcli;

namespace {

using U8Array = py::array_t<std::uint8_t>;

// Equal as NumPy compares dtypes (an unpickled dtype is another object), in native order.
bool same_dtype(const py::dtype& a, const py::dtype& b) {
    return a.kind() == b.kind() && a.itemsize() == b.itemsize() &&
           (a.itemsize() == 1 || a.byteorder() == '=' || a.byteorder() == b.byteorder());
}

// Checks dtype, dimensions, the size of the last axis and C-contiguity, naming the argument.
void require(const py::array& a, const char* name, const py::dtype& dtype, int ndim,
             std::initializer_list<py::ssize_t> last_axis, const char* shape_text) {
    if (!same_dtype(a.dtype(), dtype)) {
        throw py::value_error(std::string(name) + " must have dtype " + std::string(py::str(dtype)) +
                              ", got " + std::string(py::str(a.dtype())));
    }
    bool last_ok = last_axis.size() == 0;
    for (py::ssize_t v : last_axis) last_ok |= a.ndim() == ndim && a.shape(ndim - 1) == v;
    if (a.ndim() != ndim || !last_ok) {
        std::string shape = "(";
        for (py::ssize_t d = 0; d < a.ndim(); ++d) shape += (d ? ", " : "") + std::to_string(a.shape(d));
        throw py::value_error(std::string(name) + " must have shape " + shape_text + ", got " + shape +
                              (a.ndim() == 1 ? ",)" : ")"));
    }
    if (!(a.flags() & py::array::c_style)) {
        throw py::value_error(std::string(name) + " must be C-contiguous (numpy.ascontiguousarray)");
    }
}

void require_image(const py::array& pixels) {
    require(pixels, "pixels", py::dtype::of<std::uint8_t>(), 3, {3, 4}, "(h, w, 3) or (h, w, 4)");
    if (pixels.shape(0) == 0 || pixels.shape(1) == 0) throw py::value_error("pixels must not be empty");
}

void require_k(int k) {
    if (k < 2 || k > 256) throw py::value_error("k must be from 2 to 256, got " + std::to_string(k));
}

std::vector<Rgba8> palette_from_array(const py::array& palette) {
    require(palette, "palette", py::dtype::of<std::uint8_t>(), 2, {3, 4}, "(n, 3) or (n, 4)");
    const py::ssize_t n = palette.shape(0), c = palette.shape(1);
    if (n < 1 || n > 256) throw py::value_error("palette must have 1 to 256 entries, got " + std::to_string(n));
    const auto* p = static_cast<const std::uint8_t*>(palette.data());
    std::vector<Rgba8> out(n);
    for (py::ssize_t i = 0; i < n; ++i) {
        out[i] = {p[i * c], p[i * c + 1], p[i * c + 2], c == 4 ? p[i * c + 3] : std::uint8_t{255}};
    }
    return out;
}

U8Array palette_to_array(const std::vector<Rgba8>& palette, int channels) {
    U8Array out({static_cast<py::ssize_t>(palette.size()), static_cast<py::ssize_t>(channels)});
    auto* dst = out.mutable_data();
    for (std::size_t i = 0; i < palette.size(); ++i) std::memcpy(dst + i * channels, palette[i].data(), channels);
    return out;
}

Histogram histogram_from_arrays(const py::array& colors, const py::array& counts) {
    require(colors, "colors", py::dtype::of<std::uint8_t>(), 2, {4}, "(n, 4)");
    require(counts, "counts", py::dtype::of<std::uint64_t>(), 1, {}, "(n,)");
    if (colors.shape(0) != counts.shape(0)) throw py::value_error("colors and counts must have the same length");
    if (colors.shape(0) == 0) throw py::value_error("the histogram must not be empty");
    Histogram hist;
    const auto* c = static_cast<const std::uint8_t*>(colors.data());
    const auto* w = static_cast<const std::uint64_t*>(counts.data());
    for (py::ssize_t i = 0; i < colors.shape(0); ++i) {
        const ColorKey key = pack_rgba(c[4 * i], c[4 * i + 1], c[4 * i + 2], c[4 * i + 3]);
        if (i > 0 && key <= hist.colors.back()) {
            throw py::value_error("histogram colors must be unique and sorted as quantcli returns them");
        }
        hist.colors.push_back(key);
        hist.counts.push_back(w[i]);
    }
    return hist;
}

py::tuple histogram_to_arrays(const Histogram& hist) {
    const auto n = static_cast<py::ssize_t>(hist.size());
    U8Array colors({n, py::ssize_t{4}});
    py::array_t<std::uint64_t> counts(n);
    auto* c = colors.mutable_data();
    for (py::ssize_t i = 0; i < n; ++i) {
        for (int ch = 0; ch < 4; ++ch) c[4 * i + ch] = key_channel(hist.colors[i], ch);
    }
    std::memcpy(counts.mutable_data(), hist.counts.data(), hist.size() * sizeof(std::uint64_t));
    return py::make_tuple(colors, counts);
}

InitMethod init_method(const std::string& name) {
    if (name == "median-cut") return InitMethod::kMedianCut;
    if (name == "kmeans++") return InitMethod::kKMeansPlusPlus;
    throw py::value_error("init must be 'median-cut' or 'kmeans++', got '" + name + "'");
}

QuantizeOptions make_options(int k, std::uint64_t seed, int max_iter, double tol, float dither,
                             const std::string& init, int threads, float run_margin) {
    require_k(k);
    if (max_iter < 0) throw py::value_error("max_iter must be >= 0");
    if (!(tol >= 0.0)) throw py::value_error("tol must be >= 0");
    if (threads < 0) throw py::value_error("threads must be >= 0 (0: all cores)");
    if (!(run_margin >= 0.0f)) throw py::value_error("run_margin must be >= 0");
    if (!(dither >= 0.0f && dither <= 1.0f)) throw py::value_error("dither must be from 0 to 1");
    return {k, seed, max_iter, tol, dither, init_method(init), threads, run_margin};
}

py::dict quantized_to_dict(Quantized&& q, py::ssize_t h, py::ssize_t w, int channels) {
    U8Array labels({h, w});
    std::memcpy(labels.mutable_data(), q.labels.data(), q.labels.size());
    py::array_t<std::uint64_t> counts(static_cast<py::ssize_t>(q.counts.size()));
    std::memcpy(counts.mutable_data(), q.counts.data(), q.counts.size() * sizeof(std::uint64_t));
    py::dict out;
    out["palette"] = palette_to_array(q.palette, channels);
    out["labels"] = labels;
    out["counts"] = counts;
    out["sse"] = q.sse;
    out["perceptual_sse"] = q.perceptual_sse;
    out["iterations"] = q.iterations;
    out["unique_colors"] = q.unique_colors;
    return out;
}


// Cluster labels, one per point, any non-negative int32: renumbered 0..m-1 in increasing
// order of label, with m the number of distinct labels.
std::vector<std::int32_t> compact_labels(const py::array& labels, py::ssize_t n, int& n_clusters) {
    require(labels, "labels", py::dtype::of<std::int32_t>(), 1, {}, "(n,)");
    if (labels.shape(0) != n) {
        throw py::value_error("labels must have one entry per point: " + std::to_string(n) + ", got " +
                              std::to_string(labels.shape(0)));
    }
    const auto* l = static_cast<const std::int32_t*>(labels.data());
    std::vector<std::int32_t> out(l, l + n);
    for (std::int32_t v : out) {
        if (v < 0) throw py::value_error("labels must be >= 0, found " + std::to_string(v));
    }
    std::vector<std::int32_t> distinct = out;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    for (std::int32_t& v : out) {
        v = static_cast<std::int32_t>(std::lower_bound(distinct.begin(), distinct.end(), v) - distinct.begin());
    }
    n_clusters = static_cast<int>(distinct.size());
    return out;
}

ScanOptions scan_options(const std::vector<int>& ks, std::uint64_t seed, int max_iter, double tol,
                         const std::string& init, std::size_t sample, std::uint64_t sample_seed, int threads,
                         int png_level, float run_margin) {
    if (ks.empty()) throw py::value_error("ks must not be empty");
    for (int k : ks) require_k(k);
    if (threads < 0) throw py::value_error("threads must be >= 0, got " + std::to_string(threads));
    ScanOptions options;
    options.quantize = make_options(ks.front(), seed, max_iter, tol, 0.0f, init, 1, run_margin);
    options.sample = sample;
    options.sample_seed = sample_seed;
    options.threads = threads;
    options.png_level = png_level;
    return options;
}

py::dict scores_to_dict(const std::vector<KScore>& scores) {
    const auto n = static_cast<py::ssize_t>(scores.size());
    py::array_t<std::int32_t> k(n), colors(n), iterations(n);
    py::array_t<std::int64_t> png_bytes(n);
    py::array_t<double> sse(n), silhouette(n), silhouette_euclidean(n);
    for (py::ssize_t i = 0; i < n; ++i) {
        k.mutable_at(i) = scores[i].k;
        colors.mutable_at(i) = scores[i].colors;
        iterations.mutable_at(i) = scores[i].iterations;
        png_bytes.mutable_at(i) = scores[i].png_bytes;
        sse.mutable_at(i) = scores[i].sse;
        silhouette.mutable_at(i) = scores[i].silhouette;
        silhouette_euclidean.mutable_at(i) = scores[i].silhouette_euclidean;
    }
    py::dict out;
    out["k"] = k;
    out["colors"] = colors;
    out["sse"] = sse;
    out["silhouette"] = silhouette;
    out["silhouette_euclidean"] = silhouette_euclidean;
    out["png_bytes"] = png_bytes;
    out["iterations"] = iterations;
    return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "C++ core of quantcli: histogram, k-means palette, remap and PNG encoder.";

    m.def(
        "quantize",
        [](const py::array& pixels, int k, std::uint64_t seed, int max_iter, double tol, float dither,
           const std::string& init, int threads, float run_margin) {
            require_image(pixels);
            const QuantizeOptions options = make_options(k, seed, max_iter, tol, dither, init, threads, run_margin);
            const auto h = pixels.shape(0), w = pixels.shape(1);
            const int channels = static_cast<int>(pixels.shape(2));
            const auto* data = static_cast<const std::uint8_t*>(pixels.data());
            Quantized q;
            {
                py::gil_scoped_release release;
                q = quantize(data, w, h, channels, options);
            }
            return quantized_to_dict(std::move(q), h, w, channels);
        },
        py::arg("pixels"), py::arg("k"), py::arg("seed") = 0, py::arg("max_iter") = 50,
        py::arg("tol") = 2e-3, py::arg("dither") = 0.0f, py::arg("init") = "median-cut",
        py::arg("threads") = 0, py::arg("run_margin") = 1.0f,
        "Quantize an (h, w, 3|4) uint8 image to at most k colours; dither is the strength from 0 (none) to 1.");

    m.def(
        "smallest_k_for_error",
        [](const py::array& pixels, int k_max, double max_mse, std::uint64_t seed, int max_iter, double tol,
           const std::string& init, int threads) {
            require_image(pixels);
            if (!(max_mse >= 0.0)) throw py::value_error("max_mse must be >= 0");
            const QuantizeOptions options = make_options(k_max, seed, max_iter, tol, 0.0f, init, threads, 0.0f);
            const auto h = pixels.shape(0), w = pixels.shape(1);
            const int channels = static_cast<int>(pixels.shape(2));
            const auto* data = static_cast<const std::uint8_t*>(pixels.data());
            KForError found;
            {
                py::gil_scoped_release release;
                found = smallest_k_for_error(data, w, h, channels, options, max_mse);
            }
            return py::make_tuple(found.k, found.mse, found.mse_top);
        },
        py::arg("pixels"), py::arg("k_max"), py::arg("max_mse"), py::arg("seed") = 0, py::arg("max_iter") = 50,
        py::arg("tol") = 2e-3, py::arg("init") = "median-cut", py::arg("threads") = 0,
        "Bisection on K: (smallest k <= k_max whose palette's mean squared perceptual error per pixel is <= max_mse, "
        "its error, the error at k_max); k_max when none reaches it.");

    m.def(
        "remap",
        [](const py::array& pixels, const py::array& palette, float dither, int threads, float run_margin) {
            require_image(pixels);
            if (threads < 0) throw py::value_error("threads must be >= 0 (0: all cores)");
            if (!(dither >= 0.0f && dither <= 1.0f)) throw py::value_error("dither must be from 0 to 1");
            if (!(run_margin >= 0.0f)) throw py::value_error("run_margin must be >= 0");
            const std::vector<Rgba8> entries = palette_from_array(palette);
            const auto h = pixels.shape(0), w = pixels.shape(1);
            const int channels = static_cast<int>(pixels.shape(2));
            const auto* data = static_cast<const std::uint8_t*>(pixels.data());
            Quantized q;
            {
                py::gil_scoped_release release;
                q = remap_to_palette(data, w, h, channels, entries, dither, run_margin, threads);
            }
            return quantized_to_dict(std::move(q), h, w, static_cast<int>(palette.shape(1)));
        },
        py::arg("pixels"), py::arg("palette"), py::arg("dither") = 0.0f, py::arg("threads") = 0,
        py::arg("run_margin") = 0.0f, "Map an (h, w, 3|4) uint8 image onto a given (n, 3|4) palette.");

    m.def(
        "encode_png",
        [](const py::array& labels, const py::array& palette, int level) {
            require(labels, "labels", py::dtype::of<std::uint8_t>(), 2, {}, "(h, w)");
            if (labels.shape(0) == 0 || labels.shape(1) == 0) throw py::value_error("labels must not be empty");
            const std::vector<Rgba8> entries = palette_from_array(palette);
            if (level < 0 || level > kMaxLevel) {
                throw py::value_error("level must be from 0 to " + std::to_string(kMaxLevel) + ", got " +
                                      std::to_string(level));
            }
            const auto* data = static_cast<const std::uint8_t*>(labels.data());
            const auto h = labels.shape(0), w = labels.shape(1);
            std::vector<std::uint8_t> png;
            {
                py::gil_scoped_release release;
                const std::uint8_t top = *std::max_element(data, data + h * w);
                if (top >= entries.size()) {
                    py::gil_scoped_acquire acquire;
                    throw py::value_error("labels must be below the palette size " + std::to_string(entries.size()) +
                                          ", found " + std::to_string(top));
                }
                png = encode_png(data, w, h, entries, PngOptions{level, true, 0});
            }
            return py::bytes(reinterpret_cast<const char*>(png.data()), png.size());
        },
        py::arg("labels"), py::arg("palette"), py::arg("level") = 10,
        "Encode (h, w) uint8 labels and an (n, 3|4) uint8 palette as a palette PNG.");

    m.def(
        "histogram",
        [](const py::array& pixels) {
            require_image(pixels);
            const auto* data = static_cast<const std::uint8_t*>(pixels.data());
            const std::size_t n = pixels.shape(0) * pixels.shape(1);
            const int channels = static_cast<int>(pixels.shape(2));
            Histogram hist;
            {
                py::gil_scoped_release release;
                hist = build_histogram(data, n, channels);
            }
            return histogram_to_arrays(hist);
        },
        py::arg("pixels"), "Exact colour histogram: ((n, 4) uint8 RGBA colours sorted, (n,) uint64 counts).");

    m.def(
        "merge_histograms",
        [](const py::array& colors_a, const py::array& counts_a, const py::array& colors_b,
           const py::array& counts_b) {
            const Histogram a = histogram_from_arrays(colors_a, counts_a);
            const Histogram b = histogram_from_arrays(colors_b, counts_b);
            Histogram merged;
            {
                py::gil_scoped_release release;
                merged = merge_histograms(a, b);
            }
            return histogram_to_arrays(merged);
        },
        py::arg("colors_a"), py::arg("counts_a"), py::arg("colors_b"), py::arg("counts_b"),
        "Add two histograms colour by colour.");

    m.def(
        "fit_palette",
        [](const py::array& colors, const py::array& counts, int k, std::uint64_t seed, int max_iter,
           double tol, const std::string& init, int threads) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            const QuantizeOptions options = make_options(k, seed, max_iter, tol, 0.0f, init, threads, 0.0f);
            PaletteFit fit;
            {
                py::gil_scoped_release release;
                fit = fit_palette(hist, options);
            }
            py::array_t<std::int32_t> labels(static_cast<py::ssize_t>(fit.color_label.size()));
            std::memcpy(labels.mutable_data(), fit.color_label.data(), fit.color_label.size() * sizeof(std::int32_t));
            return py::make_tuple(palette_to_array(fit.palette, 4), labels, fit.iterations);
        },
        py::arg("colors"), py::arg("counts"), py::arg("k"), py::arg("seed") = 0, py::arg("max_iter") = 50,
        py::arg("tol") = 2e-3, py::arg("init") = "median-cut", py::arg("threads") = 0,
        "Fit a palette to a histogram: ((m, 4) uint8 palette, (n,) int32 label per colour, iterations).");

    m.def(
        "kmeans",
        [](const py::array& colors, const py::array& counts, const py::array& init, int n_fixed, int max_iter,
           double tol) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            require(init, "init", py::dtype::of<float>(), 2, {4}, "(k, 4)");
            const auto k = init.shape(0);
            if (k < 1 || static_cast<std::size_t>(k) > hist.size()) {
                throw py::value_error("init must have from 1 to len(colors) centres");
            }
            if (n_fixed < 0 || n_fixed > k) throw py::value_error("n_fixed must be from 0 to len(init)");
            std::vector<Point4> centres(k);
            std::memcpy(centres.data(), init.data(), k * sizeof(Point4));
            KMeansResult km;
            {
                py::gil_scoped_release release;
                km = kmeans(to_points(hist), std::move(centres), n_fixed, max_iter, tol);
            }
            py::array_t<float> out({k, py::ssize_t{4}});
            std::memcpy(out.mutable_data(), km.centres.data(), k * sizeof(Point4));
            py::array_t<std::int32_t> assignment(static_cast<py::ssize_t>(km.assignment.size()));
            std::memcpy(assignment.mutable_data(), km.assignment.data(), km.assignment.size() * sizeof(std::int32_t));
            return py::make_tuple(out, assignment, km.inertia, km.iterations);
        },
        py::arg("colors"), py::arg("counts"), py::arg("init"), py::arg("n_fixed") = 0, py::arg("max_iter") = 100,
        py::arg("tol") = 0.0,
        "Weighted k-means on a histogram from given float32 (k, 4) centres: (centres, assignment, inertia, "
        "iterations).");

    m.def(
        "initial_palette",
        [](const py::array& colors, const py::array& counts, int k, std::uint64_t seed, const std::string& init) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            require_k(k);
            if (static_cast<std::size_t>(k) >= hist.size()) throw py::value_error("k must be below the number of colours");
            const InitMethod method = init_method(init);
            std::vector<Point4> centres;
            {
                py::gil_scoped_release release;
                const WeightedPoints data = to_points(hist);
                centres = method == InitMethod::kMedianCut ? median_cut_init(data, k, {})
                                                            : kmeanspp_init(data, k, seed, {});
            }
            py::array_t<float> out({static_cast<py::ssize_t>(k), py::ssize_t{4}});
            std::memcpy(out.mutable_data(), centres.data(), k * sizeof(Point4));
            return out;
        },
        py::arg("colors"), py::arg("counts"), py::arg("k"), py::arg("seed") = 0, py::arg("init") = "median-cut",
        "The initial (k, 4) float32 centres that k-means would start from.");
    m.def(
        "choose_k_scan",
        [](const py::array& colors, const py::array& counts, const std::vector<int>& ks, std::uint64_t seed,
           int max_iter, double tol, const std::string& init, std::size_t sample, std::uint64_t sample_seed,
           int threads) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            const ScanOptions options =
                scan_options(ks, seed, max_iter, tol, init, sample, sample_seed, threads, -1, 0.0f);
            std::vector<KScore> scores;
            {
                py::gil_scoped_release release;
                scores = scan_k(hist, ks, options);
            }
            return scores_to_dict(scores);
        },
        py::arg("colors"), py::arg("counts"), py::arg("ks"), py::arg("seed") = 0, py::arg("max_iter") = 50,
        py::arg("tol") = 2e-3, py::arg("init") = "median-cut", py::arg("sample") = 0, py::arg("sample_seed") = 0,
        py::arg("threads") = 0,
        "Fit and score a palette for each K on one histogram: a dict of (len(ks),) arrays k, colors, sse, "
        "silhouette, silhouette_euclidean (NaN without a sample), png_bytes (-1: not encoded), iterations.");

    m.def(
        "choose_k_scan_image",
        [](const py::array& pixels, const std::vector<int>& ks, std::uint64_t seed, int max_iter, double tol,
           const std::string& init, std::size_t sample, std::uint64_t sample_seed, int threads, int png_level,
           float run_margin) {
            require_image(pixels);
            if (png_level < -1 || png_level > kMaxLevel) {
                throw py::value_error("png_level must be from 0 to " + std::to_string(kMaxLevel) + ", or -1, got " +
                                      std::to_string(png_level));
            }
            ScanOptions options =
                scan_options(ks, seed, max_iter, tol, init, sample, sample_seed, threads, png_level, run_margin);
            const auto* data = static_cast<const std::uint8_t*>(pixels.data());
            options.height = pixels.shape(0);
            options.width = pixels.shape(1);
            const int channels = static_cast<int>(pixels.shape(2));
            std::vector<std::uint32_t> pixel_color;
            options.pixel_color = &pixel_color;
            std::vector<KScore> scores;
            std::size_t unique = 0;
            {
                py::gil_scoped_release release;
                Histogram hist = build_histogram(data, options.width * options.height, channels, &pixel_color,
                                                 resolve_threads(options.threads));
                add_importance(hist, pixel_color, options.width, options.height, options.threads);
                unique = hist.size();
                scores = scan_k(hist, ks, options);
            }
            py::dict out = scores_to_dict(scores);
            out["unique_colors"] = unique;
            return out;
        },
        py::arg("pixels"), py::arg("ks"), py::arg("seed") = 0, py::arg("max_iter") = 50, py::arg("tol") = 2e-3,
        py::arg("init") = "median-cut", py::arg("sample") = 0, py::arg("sample_seed") = 0, py::arg("threads") = 0,
        py::arg("png_level") = -1, py::arg("run_margin") = 1.0f,
        "choose_k_scan on an (h, w, 3|4) uint8 image's histogram, with sse that of the image quantize writes "
        "(run_margin as there); with png_level from 0 to 9 also png_bytes. Adds unique_colors to the dict.");

    m.def(
        "squared_silhouette",
        [](const py::array& colors, const py::array& counts, const py::array& labels) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            int n_clusters = 0;
            const std::vector<std::int32_t> label_vec = compact_labels(labels, colors.shape(0), n_clusters);
            py::gil_scoped_release release;
            return squared_silhouette(hist, label_vec, n_clusters);
        },
        py::arg("colors"), py::arg("counts"), py::arg("labels"),
        "Mean squared-Euclidean silhouette of every pixel (Spark's ClusteringEvaluator), from a histogram and "
        "an (n,) int32 cluster per colour; NaN with fewer than two clusters.");

    m.def(
        "euclidean_silhouette",
        [](const py::array& points, const py::array& labels, int threads) {
            require(points, "points", py::dtype::of<std::uint8_t>(), 2, {3, 4}, "(n, 3) or (n, 4)");
            const py::ssize_t n = points.shape(0);
            if (n == 0) throw py::value_error("points must not be empty");
            int n_clusters = 0;
            std::vector<std::vector<std::int32_t>> labellings{compact_labels(labels, n, n_clusters)};
            if (threads < 0) throw py::value_error("threads must be >= 0, got " + std::to_string(threads));
            const auto* p = static_cast<const std::uint8_t*>(points.data());
            const py::ssize_t c = points.shape(1);
            WeightedPoints samples;
            for (py::ssize_t i = 0; i < n; ++i) {
                samples.points.push_back({{static_cast<float>(p[i * c]), static_cast<float>(p[i * c + 1]),
                                           static_cast<float>(p[i * c + 2]),
                                           c == 4 ? static_cast<float>(p[i * c + 3]) : 255.0f}});
                samples.weights.push_back(1);
            }
            py::gil_scoped_release release;
            return euclidean_silhouettes(samples, labellings, {n_clusters}, threads)[0];
        },
        py::arg("points"), py::arg("labels"), py::arg("threads") = 0,
        "Mean Euclidean silhouette (scikit-learn's silhouette_score) of (n, 3|4) uint8 points with (n,) int32 "
        "labels; NaN with fewer than two clusters.");

    m.def(
        "sample_pixels",
        [](const py::array& colors, const py::array& counts, std::size_t n, std::uint64_t seed) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            std::vector<std::uint32_t> drawn;
            {
                py::gil_scoped_release release;
                drawn = sample_pixels(hist, n, seed);
            }
            py::array_t<std::uint32_t> out(static_cast<py::ssize_t>(drawn.size()));
            std::memcpy(out.mutable_data(), drawn.data(), drawn.size() * sizeof(std::uint32_t));
            return out;
        },
        py::arg("colors"), py::arg("counts"), py::arg("n"), py::arg("seed") = 0,
        "Draw min(n, pixels) pixels without replacement from a histogram: the (m,) uint32 colour index of each, "
        "sorted.");
}
