// Bindings for choosing K: scan candidate K values on a histogram or an image, and the
// silhouette scores and pixel sample behind them.
#include <pybind11/stl.h>

#include <algorithm>
#include <string>

#include "bind_common.hpp"
#include "choose_k.hpp"
#include "parallel.hpp"
#include "silhouette.hpp"

namespace quantcli::bind {
namespace {

// The scores of a scan, one entry per candidate K, as choose_k_scan* return them.
struct ScanScores {
    py::array_t<std::int32_t> k, colors, iterations;
    py::array_t<std::int64_t> png_bytes;
    py::array_t<double> sse, silhouette, silhouette_euclidean;
    py::list palettes;  // (colors[i], channels) uint8 each
    std::size_t unique_colors = 0;
};

// An image prepared once for choose-k; keeps the pixels alive for the dithered remap.
struct PreparedImageHandle {
    py::array pixels;
    int channels = 0;
    PreparedImage image;
};

ScanScores to_scores(const std::vector<KScore>& scores, std::size_t unique_colors, int channels) {
    const auto n = static_cast<py::ssize_t>(scores.size());
    ScanScores out;
    // Each its own array: assigning a py::array shares the object.
    out.k = py::array_t<std::int32_t>(n);
    out.colors = py::array_t<std::int32_t>(n);
    out.iterations = py::array_t<std::int32_t>(n);
    out.png_bytes = py::array_t<std::int64_t>(n);
    out.sse = py::array_t<double>(n);
    out.silhouette = py::array_t<double>(n);
    out.silhouette_euclidean = py::array_t<double>(n);
    out.unique_colors = unique_colors;
    for (py::ssize_t i = 0; i < n; ++i) {
        out.k.mutable_at(i) = scores[i].k;
        out.colors.mutable_at(i) = scores[i].colors;
        out.iterations.mutable_at(i) = scores[i].iterations;
        out.png_bytes.mutable_at(i) = scores[i].png_bytes;
        out.sse.mutable_at(i) = scores[i].sse;
        out.silhouette.mutable_at(i) = scores[i].silhouette;
        out.silhouette_euclidean.mutable_at(i) = scores[i].silhouette_euclidean;
        out.palettes.append(palette_to_array(scores[i].palette, channels));
    }
    return out;
}

ScanOptions scan_options(const std::vector<int>& ks, const py::handle& options, std::size_t sample) {
    if (ks.empty()) throw py::value_error("ks must not be empty");
    for (int k : ks) require_k(k, "every K in ks");
    ScanOptions scan;
    scan.quantize = quantize_options(options);
    scan.quantize.threads = 1;  // scan_k runs each fit on one thread
    scan.threads = quantize_options(options).threads;
    scan.sample = sample;
    scan.sample_seed = scan.quantize.seed;
    return scan;
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
        v = static_cast<std::int32_t>(std::lower_bound(distinct.begin(), distinct.end(), v) -
                                      distinct.begin());
    }
    n_clusters = static_cast<int>(distinct.size());
    return out;
}

}  // namespace

void register_choose_k(py::module_& m) {
    py::class_<ScanScores>(m, "ScanScores", "Scores of every candidate K of a scan, in the order of ks.")
        .def_readonly("k", &ScanScores::k, "(n,) int32 palette size asked for.")
        .def_readonly("colors", &ScanScores::colors, "(n,) int32 palette entries of the fit.")
        .def_readonly("sse", &ScanScores::sse, "(n,) float64 squared error over all pixels and channels.")
        .def_readonly("silhouette", &ScanScores::silhouette,
                      "(n,) float64 squared-Euclidean silhouette of all pixels.")
        .def_readonly("silhouette_euclidean", &ScanScores::silhouette_euclidean,
                      "(n,) float64 Euclidean silhouette of the sample (NaN without one).")
        .def_readonly("png_bytes", &ScanScores::png_bytes,
                      "(n,) int64 size of the fit as a PNG (-1: not encoded).")
        .def_readonly("iterations", &ScanScores::iterations, "(n,) int32 k-means updates.")
        .def_readonly("palettes", &ScanScores::palettes,
                      "The fitted palette of each K: (colors, channels) uint8.")
        .def_readonly("unique_colors", &ScanScores::unique_colors, "Distinct colours of the input.");

    m.def(
        "choose_k_scan",
        [](const py::array& colors, const py::array& counts, const std::vector<int>& ks,
           const py::handle& options, std::size_t sample) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            const ScanOptions scan = scan_options(ks, options, sample);
            std::vector<KScore> scores;
            {
                py::gil_scoped_release release;
                scores = scan_k(hist, ks, scan);
            }
            return to_scores(scores, hist.size(), 4);
        },
        py::arg("colors"), py::arg("counts"), py::arg("ks"), py::arg("options"), py::arg("sample"),
        "Fit and score a palette for each K on one histogram, with the fit options of a QuantizeOptions; a "
        "Euclidean silhouette over `sample` pixels (seeded by options.seed) when sample > 0.");

    py::class_<PreparedImageHandle>(
        m, "PreparedImage", "An image's histogram and pixel map, built once for every K choose-k tries.")
        .def(py::init([](const py::array& pixels, const py::handle& options) {
                 require_image(pixels);
                 const int threads = quantize_options(options).threads;
                 PreparedImageHandle handle{pixels, static_cast<int>(pixels.shape(2)), {}};
                 const auto* data = static_cast<const std::uint8_t*>(pixels.data());
                 const auto h = pixels.shape(0), w = pixels.shape(1);
                 {
                     py::gil_scoped_release release;
                     handle.image = prepare_image(data, w, h, handle.channels, threads);
                 }
                 return handle;
             }),
             py::arg("pixels"), py::arg("options"))
        .def_property_readonly(
            "unique_colors", [](const PreparedImageHandle& self) { return self.image.hist.size(); },
            "Distinct colours of the image.")
        .def(
            "scan",
            [](const PreparedImageHandle& self, const std::vector<int>& ks, const py::handle& options,
               std::size_t sample, int png_level) {
                ScanOptions scan = scan_options(ks, options, sample);
                scan.png_level = png_level;
                std::vector<KScore> scores;
                {
                    py::gil_scoped_release release;
                    scores = scan_k(self.image, ks, scan);
                }
                return to_scores(scores, self.image.hist.size(), self.channels);
            },
            py::arg("ks"), py::arg("options"), py::arg("sample"), py::arg("png_level"),
            "choose_k_scan on the image, with sse that of the image quantize writes; with png_level from 0 "
            "to 9 "
            "(-1: none) also png_bytes.")
        .def(
            "remap_fit",
            [](const PreparedImageHandle& self, const py::array& palette, const py::handle& options) {
                const std::vector<Rgba8> entries = palette_from_array(palette);
                const QuantizeOptions remap_opts = quantize_options(options);
                const auto* data = static_cast<const std::uint8_t*>(self.pixels.data());
                const PreparedImage& image = self.image;
                Quantized q;
                {
                    py::gil_scoped_release release;
                    q = remap_fitted_palette(data, self.channels, image.hist, image.pixel_color, image.width,
                                             image.height, entries, remap_opts);
                }
                return to_result(q, static_cast<py::ssize_t>(image.height),
                                 static_cast<py::ssize_t>(image.width), static_cast<int>(palette.shape(1)));
            },
            py::arg("palette"), py::arg("options"),
            "The image quantize(pixels, options) writes when its fit is `palette` (one of scan's palettes at "
            "K = options.k), without fitting it again.");

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
        "Mean squared-Euclidean silhouette of every pixel (Spark's ClusteringEvaluator), from a histogram "
        "and "
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
                samples.points.push_back(
                    {{static_cast<float>(p[i * c]), static_cast<float>(p[i * c + 1]),
                      static_cast<float>(p[i * c + 2]), c == 4 ? static_cast<float>(p[i * c + 3]) : 255.0f}});
                samples.weights.push_back(1);
            }
            py::gil_scoped_release release;
            return euclidean_silhouettes(samples, labellings, {n_clusters}, threads)[0];
        },
        py::arg("points"), py::arg("labels"), py::arg("threads"),
        "Mean Euclidean silhouette (scikit-learn's silhouette_score) of (n, 3|4) uint8 points with (n,) "
        "int32 "
        "labels, on `threads` threads (0: all cores); NaN with fewer than two clusters.");

    m.def(
        "sample_pixels",
        [](const py::array& colors, const py::array& counts, std::size_t n, std::uint64_t seed) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            std::vector<std::uint32_t> drawn;
            {
                py::gil_scoped_release release;
                drawn = sample_pixels(hist, n, seed);
            }
            return to_array(drawn);
        },
        py::arg("colors"), py::arg("counts"), py::arg("n"), py::arg("seed"),
        "Draw min(n, pixels) pixels without replacement from a histogram: the (m,) uint32 colour index of "
        "each, "
        "sorted.");
}

}  // namespace quantcli::bind
