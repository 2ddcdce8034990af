// Conversions shared by the binding files: NumPy arrays to the core's types and back,
// and the options object to the core's options. Only binding files include this header.
//
// Where each check lives:
// - Option values (k, seed, max_iter, tol, init, dither, threads, run_margin, level) are
//   validated once, by quantcli.options.QuantizeOptions in Python, where their defaults
//   live too. Bindings accept only that object (quantize_options refuses anything else)
//   and read it without checking the values again.
// - Arrays and plain arguments (shapes, dtypes, contiguity, sorted histograms, labels
//   below the palette size, finite centres, each K of a scan) are checked here, because
//   the core trusts them for memory safety and nothing else sees them. Every check runs
//   while the GIL is held, before the binding releases it.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "histogram.hpp"
#include "png_encoder.hpp"
#include "quantize.hpp"

namespace quantcli::bind {

namespace py = pybind11;

// Checks dtype (native byte order), dimensions, the size of the last axis (when
// `last_axis` is not empty) and C-contiguity; the ValueError names the argument.
void require(const py::array& a, const char* name, const py::dtype& dtype, int ndim,
             std::initializer_list<py::ssize_t> last_axis, const char* shape_text);

// A non-empty (h, w, 3|4) uint8 C-contiguous image.
void require_image(const py::array& pixels);

// A palette size K from 2 to 256 (labels are uint8).
void require_k(int k, const char* name = "k");

// The core's options, read from a quantcli.QuantizeOptions (already validated there).
QuantizeOptions quantize_options(const py::handle& options);

// An (n, 3|4) uint8 palette with 1 to 256 entries; RGB entries get alpha 255.
std::vector<Rgba8> palette_from_array(const py::array& palette);

// The first `channels` channels of every entry, as an (n, channels) uint8 array.
py::array_t<std::uint8_t> palette_to_array(const std::vector<Rgba8>& palette, int channels);

// A histogram from (n, 4) uint8 colours (unique, sorted as the core sorts them) and
// (n,) uint64 counts; n >= 1.
Histogram histogram_from_arrays(const py::array& colors, const py::array& counts);

// ((n, 4) uint8 colours, (n,) uint64 counts).
py::tuple histogram_to_arrays(const Histogram& hist);

// A 1-D NumPy array holding a copy of `values`.
template <typename T>
py::array_t<T> to_array(const std::vector<T>& values) {
    py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
    if (!values.empty()) std::memcpy(out.mutable_data(), values.data(), values.size() * sizeof(T));
    return out;
}

// (k, 4) float32 centres, each channel finite and within 0..255.
std::vector<Point4> centres_from_array(const py::array& centres, const char* name);

// (k, 4) float32 array of centres.
py::array_t<float> centres_to_array(const std::vector<Point4>& centres);

// What quantize, remap and PreparedImage.remap_fit return to Python.
struct QuantizeResult {
    py::array_t<std::uint8_t> palette;  // (n, channels)
    py::array_t<std::uint8_t> labels;   // (h, w)
    py::array_t<std::uint64_t> counts;  // (n,)
    double sse = 0.0;
    int iterations = 0;
    std::size_t unique_colors = 0;
};

// The result of an (h, w) image, with `channels` channels of each palette entry.
QuantizeResult to_result(const Quantized& q, py::ssize_t h, py::ssize_t w, int channels);

// One register function per area; module.cpp calls them all.
void register_histogram(py::module_& m);
void register_palette(py::module_& m);
void register_quantize(py::module_& m);
void register_png(py::module_& m);
void register_choose_k(py::module_& m);

}  // namespace quantcli::bind
