// Bindings of stage 1: exact colour histograms, and adding two of them.
#include "bind_common.hpp"

namespace quantcli::bind {

void register_histogram(py::module_& m) {
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
}

}  // namespace quantcli::bind
