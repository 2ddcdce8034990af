// Binding of stage 5: the palette PNG encoder.
#include <algorithm>
#include <string>

#include "bind_common.hpp"

namespace quantcli::bind {

void register_png(py::module_& m) {
    m.def(
        "encode_png",
        [](const py::array& labels, const py::array& palette, int level, int threads) {
            require(labels, "labels", py::dtype::of<std::uint8_t>(), 2, {}, "(h, w)");
            if (labels.shape(0) == 0 || labels.shape(1) == 0)
                throw py::value_error("labels must not be empty");
            const std::vector<Rgba8> entries = palette_from_array(palette);
            const auto* data = static_cast<const std::uint8_t*>(labels.data());
            const auto h = labels.shape(0), w = labels.shape(1);
            const std::uint8_t top = *std::max_element(data, data + h * w);
            if (top >= entries.size()) {
                throw py::value_error("labels must be below the palette size " +
                                      std::to_string(entries.size()) + ", found " + std::to_string(top));
            }
            std::vector<std::uint8_t> png;
            {
                py::gil_scoped_release release;
                png = encode_png(data, w, h, entries, PngOptions{level, true, threads});
            }
            return py::bytes(reinterpret_cast<const char*>(png.data()), png.size());
        },
        py::arg("labels"), py::arg("palette"), py::arg("level"), py::arg("threads") = 0,
        "Encode (h, w) uint8 labels and an (n, 3|4) uint8 palette as a palette PNG at level 0 to 12 (0-9: "
        "zlib, 10-12: libdeflate), deflating on `threads` threads (0: all cores; the bytes do not depend on "
        "it).");
}

}  // namespace quantcli::bind
