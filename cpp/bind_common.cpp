#include "bind_common.hpp"

#include <cmath>
#include <string>

namespace quantcli::bind {
namespace {

// Equal as NumPy compares dtypes (an unpickled dtype is another object), in native order.
bool same_dtype(const py::dtype& a, const py::dtype& b) {
    return a.kind() == b.kind() && a.itemsize() == b.itemsize() &&
           (a.itemsize() == 1 || a.byteorder() == '=' || a.byteorder() == b.byteorder());
}

std::string shape_of(const py::array& a) {
    std::string shape = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) shape += (d ? ", " : "") + std::to_string(a.shape(d));
    return shape + (a.ndim() == 1 ? ",)" : ")");
}

InitMethod init_method(const std::string& name) {
    if (name == "median-cut") return InitMethod::kMedianCut;
    return InitMethod::kKMeansPlusPlus;  // QuantizeOptions admits no other name
}

}  // namespace

void require(const py::array& a, const char* name, const py::dtype& dtype, int ndim,
             std::initializer_list<py::ssize_t> last_axis, const char* shape_text) {
    if (!same_dtype(a.dtype(), dtype)) {
        throw py::value_error(std::string(name) + " must have dtype " + std::string(py::str(dtype)) +
                              ", got " + std::string(py::str(a.dtype())));
    }
    bool last_ok = last_axis.size() == 0;
    for (py::ssize_t v : last_axis) last_ok |= a.ndim() == ndim && a.shape(ndim - 1) == v;
    if (a.ndim() != ndim || !last_ok) {
        throw py::value_error(std::string(name) + " must have shape " + shape_text + ", got " + shape_of(a));
    }
    if (!(a.flags() & py::array::c_style)) {
        throw py::value_error(std::string(name) + " must be C-contiguous (numpy.ascontiguousarray)");
    }
}

void require_image(const py::array& pixels) {
    require(pixels, "pixels", py::dtype::of<std::uint8_t>(), 3, {3, 4}, "(h, w, 3) or (h, w, 4)");
    if (pixels.shape(0) == 0 || pixels.shape(1) == 0) throw py::value_error("pixels must not be empty");
}

void require_k(int k, const char* name) {
    if (k < 2 || k > 256) {
        throw py::value_error(std::string(name) + " must be from 2 to 256, got " + std::to_string(k));
    }
}

QuantizeOptions quantize_options(const py::handle& options) {
    const py::object type = py::module_::import("quantcli.options").attr("QuantizeOptions");
    if (!py::isinstance(options, type)) {
        throw py::type_error("options must be a quantcli.QuantizeOptions, got " +
                             std::string(py::str(py::type::of(options))));
    }
    QuantizeOptions out;
    out.k = options.attr("k").cast<int>();
    out.seed = options.attr("seed").cast<std::uint64_t>();
    out.max_iter = options.attr("max_iter").cast<int>();
    out.tol = options.attr("tol").cast<double>();
    out.dither = options.attr("dither_level").cast<float>();  // "auto", "on", ... as a strength
    out.init = init_method(options.attr("init").cast<std::string>());
    out.threads = options.attr("threads").cast<int>();
    out.run_margin = options.attr("run_margin").cast<float>();
    out.max_colors = options.attr("max_colors").cast<std::size_t>();
    return out;
}

std::vector<Rgba8> palette_from_array(const py::array& palette) {
    require(palette, "palette", py::dtype::of<std::uint8_t>(), 2, {3, 4}, "(n, 3) or (n, 4)");
    const py::ssize_t n = palette.shape(0), c = palette.shape(1);
    if (n < 1 || n > 256) {
        throw py::value_error("palette must have 1 to 256 entries, got " + std::to_string(n));
    }
    const auto* p = static_cast<const std::uint8_t*>(palette.data());
    std::vector<Rgba8> out(n);
    for (py::ssize_t i = 0; i < n; ++i) {
        out[i] = {p[i * c], p[i * c + 1], p[i * c + 2], c == 4 ? p[i * c + 3] : std::uint8_t{255}};
    }
    return out;
}

py::array_t<std::uint8_t> palette_to_array(const std::vector<Rgba8>& palette, int channels) {
    py::array_t<std::uint8_t> out(
        {static_cast<py::ssize_t>(palette.size()), static_cast<py::ssize_t>(channels)});
    auto* dst = out.mutable_data();
    for (std::size_t i = 0; i < palette.size(); ++i) {
        std::memcpy(dst + i * channels, palette[i].data(), channels);
    }
    return out;
}

Histogram histogram_from_arrays(const py::array& colors, const py::array& counts) {
    require(colors, "colors", py::dtype::of<std::uint8_t>(), 2, {4}, "(n, 4)");
    require(counts, "counts", py::dtype::of<std::uint64_t>(), 1, {}, "(n,)");
    if (colors.shape(0) != counts.shape(0)) {
        throw py::value_error("colors and counts must have the same length");
    }
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
    py::array_t<std::uint8_t> colors({n, py::ssize_t{4}});
    auto* c = colors.mutable_data();
    for (py::ssize_t i = 0; i < n; ++i) {
        for (int ch = 0; ch < 4; ++ch) c[4 * i + ch] = key_channel(hist.colors[i], ch);
    }
    return py::make_tuple(colors, to_array(hist.counts));
}

QuantizeResult to_result(const Quantized& q, py::ssize_t h, py::ssize_t w, int channels) {
    QuantizeResult out;
    out.palette = palette_to_array(q.palette, channels);
    out.labels = py::array_t<std::uint8_t>({h, w});
    std::memcpy(out.labels.mutable_data(), q.labels.data(), q.labels.size());
    out.counts = to_array(q.counts);
    out.sse = q.sse;
    out.perceptual_sse = q.perceptual_sse;
    out.iterations = q.iterations;
    out.unique_colors = q.unique_colors;
    return out;
}

std::vector<Point4> centres_from_array(const py::array& centres, const char* name) {
    require(centres, name, py::dtype::of<float>(), 2, {4}, "(k, 4)");
    const auto k = centres.shape(0);
    std::vector<Point4> out(k);
    if (k > 0) std::memcpy(out.data(), centres.data(), k * sizeof(Point4));
    for (const Point4& p : out) {
        for (float v : p.c) {
            // NaN fails both comparisons.
            if (!(v >= 0.0f && v <= 255.0f)) {
                throw py::value_error(std::string(name) + " must hold finite values from 0 to 255, found " +
                                      std::to_string(v));
            }
        }
    }
    return out;
}

py::array_t<float> centres_to_array(const std::vector<Point4>& centres) {
    py::array_t<float> out({static_cast<py::ssize_t>(centres.size()), py::ssize_t{4}});
    if (!centres.empty()) std::memcpy(out.mutable_data(), centres.data(), centres.size() * sizeof(Point4));
    return out;
}

}  // namespace quantcli::bind
