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
}

}  // namespace quantcli::bind
