// Bindings of the orchestrator: quantize an image, or remap it onto a given palette.
#include "bind_common.hpp"

namespace quantcli::bind {
void register_quantize(py::module_& m) {
    py::class_<QuantizeResult>(m, "QuantizeResult", "A quantized image, as quantize and remap return it.")
        .def_readonly("palette", &QuantizeResult::palette,
                      "(n, 3|4) uint8 colours, the input's channels (remap: the palette's).")
        .def_readonly("labels", &QuantizeResult::labels, "(h, w) uint8 palette index of every pixel.")
        .def_readonly("counts", &QuantizeResult::counts, "(n,) uint64 pixels per palette entry.")
        .def_readonly("sse", &QuantizeResult::sse, "Squared error of palette[labels], all channels.")
        .def_readonly("perceptual_sse", &QuantizeResult::perceptual_sse,
                      "Squared error of palette[labels] in the perceptual space (cpp/perceptual.hpp).")
        .def_readonly("iterations", &QuantizeResult::iterations, "k-means updates (0 for remap).")
        .def_readonly("unique_colors", &QuantizeResult::unique_colors,
                      "Distinct colours in the input (0 for a dithered remap).");

    m.def(
        "quantize",
        [](const py::array& pixels, const py::handle& options) {
            require_image(pixels);
            const QuantizeOptions quantize_opts = quantize_options(options);
            const auto h = pixels.shape(0), w = pixels.shape(1);
            const int channels = static_cast<int>(pixels.shape(2));
            const auto* data = static_cast<const std::uint8_t*>(pixels.data());
            Quantized q;
            {
                py::gil_scoped_release release;
                q = quantize(data, w, h, channels, quantize_opts);
            }
            return to_result(q, h, w, channels);
        },
        py::arg("pixels"), py::arg("options"),
        "Quantize an (h, w, 3|4) uint8 image to at most options.k colours.");

    m.def(
        "compress_plain_png",
        [](const py::buffer& data, const py::handle& options, std::uint64_t max_pixels) -> py::object {
            const py::buffer_info view = data.request();
            if (view.ndim != 1 || view.itemsize != 1) throw py::value_error("data must be bytes");
            const QuantizeOptions quantize_opts = quantize_options(options);
            const PngOptions png_opts{options.attr("level").cast<int>(), true, quantize_opts.threads};
            CompressedPng out;
            bool done;
            {
                py::gil_scoped_release release;
                done = compress_plain_png(static_cast<const std::uint8_t*>(view.ptr),
                                          static_cast<std::size_t>(view.size), max_pixels, quantize_opts,
                                          png_opts, out);
            }
            if (!done) return py::none();
            py::bytes png(reinterpret_cast<const char*>(out.png.data()), out.png.size());
            return py::make_tuple(png, out.colors, out.sse, out.samples);
        },
        py::arg("data"), py::arg("options"), py::arg("max_pixels"),
        "A plain PNG file's bytes decoded, quantized and encoded as quantize and encode_png would: (png "
        "bytes, palette entries, squared error, samples); None when the file is not a plain PNG "
        "(cpp/png_decoder.hpp) or has more than max_pixels pixels (0: no limit). Needs no NumPy.");

    m.def(
        "remap",
        [](const py::array& pixels, const py::array& palette, const py::handle& options) {
            require_image(pixels);
            const std::vector<Rgba8> entries = palette_from_array(palette);
            const QuantizeOptions remap_opts = quantize_options(options);
            const auto h = pixels.shape(0), w = pixels.shape(1);
            const int channels = static_cast<int>(pixels.shape(2));
            const auto* data = static_cast<const std::uint8_t*>(pixels.data());
            Quantized q;
            {
                py::gil_scoped_release release;
                q = remap_to_palette(data, w, h, channels, entries, remap_opts.dither, remap_opts.run_margin,
                                     remap_opts.threads);
            }
            return to_result(q, h, w, static_cast<int>(palette.shape(1)));
        },
        py::arg("pixels"), py::arg("palette"), py::arg("options"),
        "Map an (h, w, 3|4) uint8 image onto a given (n, 3|4) palette (options.dither, options.run_margin, "
        "options.threads).");

    m.def(
        "smallest_k_for_error",
        [](const py::array& pixels, double max_mse, const py::handle& options) {
            require_image(pixels);
            if (!(max_mse >= 0.0)) throw py::value_error("max_mse must be >= 0");
            const QuantizeOptions search_opts = quantize_options(options);
            const auto h = pixels.shape(0), w = pixels.shape(1);
            const int channels = static_cast<int>(pixels.shape(2));
            const auto* data = static_cast<const std::uint8_t*>(pixels.data());
            KForError found;
            {
                py::gil_scoped_release release;
                found = smallest_k_for_error(data, w, h, channels, search_opts, max_mse);
            }
            return py::make_tuple(found.k, found.mse, found.mse_top);
        },
        py::arg("pixels"), py::arg("max_mse"), py::arg("options"),
        "Bisection on K up to options.k: (smallest k whose palette's mean squared perceptual error per pixel "
        "is <= max_mse, its error, the error at options.k); options.k when none reaches it.");
}

}  // namespace quantcli::bind
