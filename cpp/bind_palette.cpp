// Bindings of stages 2 and 3: the initial palette, weighted k-means, and the palette fit
// that quantize makes, on a histogram.
#include <string>

#include "bind_common.hpp"
#include "kmeans.hpp"
#include "palette_init.hpp"

namespace quantcli::bind {

void register_palette(py::module_& m) {
    m.def(
        "fit_palette",
        [](const py::array& colors, const py::array& counts, const py::handle& options) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            const QuantizeOptions fit_options = quantize_options(options);
            PaletteFit fit;
            {
                py::gil_scoped_release release;
                fit = fit_palette(hist, fit_options);
            }
            return py::make_tuple(palette_to_array(fit.palette, 4), to_array(fit.color_label),
                                  fit.iterations);
        },
        py::arg("colors"), py::arg("counts"), py::arg("options"),
        "Fit a palette of at most options.k colours to a histogram: ((m, 4) uint8 palette, (n,) int32 "
        "label per colour, iterations).");

    m.def(
        "initial_palette",
        [](const py::array& colors, const py::array& counts, const py::handle& options) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            const QuantizeOptions init_options = quantize_options(options);
            if (static_cast<std::size_t>(init_options.k) >= hist.size()) {
                throw py::value_error("k must be below the number of colours");
            }
            std::vector<Point4> centres;
            {
                py::gil_scoped_release release;
                const WeightedPoints data = to_points(hist);
                centres = init_options.init == InitMethod::kMedianCut
                              ? median_cut_init(data, init_options.k, {})
                              : kmeanspp_init(data, init_options.k, init_options.seed, {});
            }
            return centres_to_array(centres);
        },
        py::arg("colors"), py::arg("counts"), py::arg("options"),
        "The (k, 4) float32 centres that k-means starts from (options.k, options.init, options.seed).");

    m.def(
        "kmeans",
        [](const py::array& colors, const py::array& counts, const py::array& init, int n_fixed,
           const py::handle& options) {
            const Histogram hist = histogram_from_arrays(colors, counts);
            std::vector<Point4> centres = centres_from_array(init, "init");
            const auto k = static_cast<int>(centres.size());
            if (k < 1 || static_cast<std::size_t>(k) > hist.size()) {
                throw py::value_error("init must have from 1 to len(colors) centres, got " +
                                      std::to_string(k));
            }
            if (n_fixed < 0 || n_fixed > k) throw py::value_error("n_fixed must be from 0 to len(init)");
            const QuantizeOptions fit_options = quantize_options(options);
            KMeansResult km;
            {
                py::gil_scoped_release release;
                km = kmeans(to_points(hist), std::move(centres), n_fixed, fit_options.max_iter,
                            fit_options.tol);
            }
            return py::make_tuple(centres_to_array(km.centres), to_array(km.assignment), km.inertia,
                                  km.iterations);
        },
        py::arg("colors"), py::arg("counts"), py::arg("init"), py::arg("n_fixed"), py::arg("options"),
        "Weighted k-means on a histogram from given (k, 4) float32 centres, the first n_fixed never moving, "
        "with options.max_iter and options.tol: (centres, assignment, inertia, iterations).");
}

}  // namespace quantcli::bind
